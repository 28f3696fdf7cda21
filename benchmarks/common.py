"""What the training benchmarks share: the demo's run config and synthetic batches for a TrainingRun."""

import importlib.util
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def demo_run_config(num_words: int, optimizer: str = "easgd"):
    """The run section of configs/demo.py (1/8-width AlexNet, 64 px, EASGD over 2 logical CPUs) at K words."""
    spec = importlib.util.spec_from_file_location("demo_config", os.path.join(REPO, "configs", "demo.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config().run
    config.model.num_words = num_words
    config.optimizer.name = optimizer
    return config


def synthetic_batches(run, num_words: int, distinct: int = 8):
    """An endless iterator of distributed batches like the input pipeline's: random images, one word each."""
    import tensorflow as tf

    size = run.config.model.image_size

    def dataset_fn(context):
        batch = context.get_per_replica_batch_size(run.global_batch_size)
        seed = context.input_pipeline_id
        images = tf.random.stateless_normal((distinct, batch, size, size, 3), (seed, 1))
        labels = tf.random.stateless_uniform((distinct, batch, 1), (seed, 2), 0, num_words, tf.int32)
        positions = tf.zeros((distinct, batch), tf.int64)
        return tf.data.Dataset.from_tensor_slices(
            {"images": images, "labels": labels, "positions": positions}).repeat()

    return run.distribute(dataset_fn)

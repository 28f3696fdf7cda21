"""EASGD (tau = 10) against synchronous SGD on 2 logical CPU devices.

The same narrow AlexNet (1/8 width, 64 px) with the in-batch word layer at
K = 1,000, global batch 128, random images and uniformly drawn words (so the
input pipeline is not measured). Images/s is measured over the compiled
steps. Bytes reduced across replicas per image are counted from the tensors
each mode hands to cross-replica reductions: synchronous SGD all-reduces
every gradient every step (the word layer's as IndexedSlices: its rows and
indices), EASGD sums one copy of the weights every tau steps. Prints one
JSON line: {"bench": "easgd", "easgd_images_per_s", "sync_images_per_s",
"easgd_bytes_per_image", "sync_bytes_per_image"}.
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 40, "Timed steps per mode.")
flags.DEFINE_integer("tau", 10, "EASGD communication period.")
flags.DEFINE_integer("num_words", 1000, "K.")


def gradient_bytes(gradients) -> int:
    import tensorflow as tf

    total = 0
    for g in gradients:
        if isinstance(g, tf.IndexedSlices):
            total += int(tf.size(g.values)) * g.values.dtype.size + int(tf.size(g.indices)) * g.indices.dtype.size
        else:
            total += int(tf.size(g)) * g.dtype.size
    return total


def main(argv):
    del argv
    import ml_collections
    import tensorflow as tf

    from wsl_tf.models import MultiClassLogisticLoss, build_model, in_batch_targets
    from wsl_tf.train.easgd import EASGD, local_variables
    from wsl_tf.train.optimizers import SparseMomentumSGD

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    model_config = ml_collections.ConfigDict(
        dict(name="alexnet", num_words=FLAGS.num_words, image_size=64, width=0.125))
    loss_fn = MultiClassLogisticLoss()
    global_batch, replicas = 128, strategy.num_replicas_in_sync
    images = tf.random.normal((global_batch, 64, 64, 3))
    labels = tf.random.uniform((global_batch, 1), 0, FLAGS.num_words, tf.int32)
    batch = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensors({"images": images, "labels": labels}).unbatch().batch(global_batch).repeat())
    batches = iter(batch)
    results = {}

    def measure(mode):
        with strategy.scope():
            centre = build_model(model_config)
            if mode == "easgd":
                with local_variables():
                    model = build_model(model_config)
                easgd = EASGD(strategy, model.trainable_variables, centre.trainable_variables, 0.01, tau=FLAGS.tau)
                easgd.set_locals_to_centre()
            else:
                model = centre
                optimizer = SparseMomentumSGD(0.01, momentum=0.9, nesterov=True)
                optimizer.build(model.trainable_variables)

        def replica_step(b):
            classes, targets = in_batch_targets(b["labels"])
            with tf.GradientTape() as tape:
                loss = loss_fn(model.in_batch_logits(b["images"], classes)["words"], targets)
                scaled = loss if mode == "easgd" else loss / replicas
            grads = tape.gradient(scaled, model.trainable_variables)
            if mode == "easgd":
                easgd.apply_local(grads)
            else:
                optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        @tf.function
        def step(b):
            return strategy.reduce(tf.distribute.ReduceOp.MEAN, strategy.run(replica_step, args=(b,)), axis=None)

        elastic = tf.function(easgd.elastic_step) if mode == "easgd" else None

        def run_steps(n):
            for i in range(n):
                if elastic is not None and i % FLAGS.tau == 0:
                    elastic()
                loss = step(next(batches))
            return float(loss)

        run_steps(FLAGS.tau)  # Compile.
        started = time.perf_counter()
        run_steps(FLAGS.steps)
        results[f"{mode}_images_per_s"] = round(FLAGS.steps * global_batch / (time.perf_counter() - started), 1)
        if mode == "sync":
            per_replica = global_batch // replicas
            with tf.GradientTape() as tape:
                classes, targets = in_batch_targets(labels[:per_replica])
                loss = loss_fn(model.in_batch_logits(images[:per_replica], classes)["words"], targets)
            per_step = gradient_bytes(tape.gradient(loss, model.trainable_variables)) * replicas
            results["sync_bytes_per_image"] = round(per_step / global_batch, 1)
        else:
            per_elastic = easgd.reduced_bytes_per_elastic_step() * replicas
            results["easgd_bytes_per_image"] = round(per_elastic / (FLAGS.tau * global_batch), 1)

    measure("sync")
    measure("easgd")

    print(json.dumps({"bench": "easgd", "replicas": replicas, "tau": FLAGS.tau, "K": FLAGS.num_words,
                      "global_batch": global_batch, **results}))


if __name__ == "__main__":
    app.run(main)

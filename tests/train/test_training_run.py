"""The run wsl-train steps through: a sparse compiled step, exchanges every tau steps, per-replica dropout."""

import threading

import ml_collections
import numpy as np
import pytest
import tensorflow as tf
from wsl_tf.configs import paper

from wsl_tf.input.sampling import uniform_word_inclusion
from wsl_tf.models import MultiClassLogisticLoss, OneVsAllLogisticLoss
from wsl_tf.train.training_run import TrainingRun, prepare_process, release_in_background
from wsl_tf.variables import replica_copies, seed_state_variables

K = 997  # A prime no other dimension of the narrow AlexNet equals.
INCLUSION = uniform_word_inclusion(K, 4)  # The batches below: 4 images per replica, one uniform word each.


def run_config(optimizer="easgd", devices=("/cpu:0", "/cpu:1"), num_words=K, tau=3) -> ml_collections.ConfigDict:
    config = paper.get_config(f"alexnet,k={num_words}")
    config.model.update({"image_size": 64, "width": 0.125})
    config.input.update({"resize_size": 64, "crop_size": 64})
    config.optimizer.update({"name": optimizer, "learning_rate": 0.05, "tau": tau})
    config.train.update({"batch_size_per_replica": 4, "devices": devices})
    return config


def new_run(config, loss_fn, **kwargs) -> TrainingRun:
    """A TrainingRun built as the trainer builds one: the process prepared from its config first."""
    prepare_process(config)
    return TrainingRun(config, loss_fn, **kwargs)


def step(run, stream) -> float:
    """One step through the path wsl-train steps through; its mean loss."""
    return float(run.run_steps(stream, 1)[0])


def batches(run, labels_fn, negatives=0):
    """Distributed batches like the pipeline's; with `negatives` extra word ids per batch, as it draws them."""

    def dataset_fn(context):
        batch = context.get_per_replica_batch_size(run.global_batch_size)
        seed = context.input_pipeline_id
        images = tf.random.stateless_normal((4, batch, 64, 64, 3), (seed, 1))
        labels = labels_fn((4, batch), seed)
        elements = {"images": images, "labels": labels, "positions": tf.zeros((4, batch), tf.int64)}
        if negatives:
            elements["negatives"] = tf.random.stateless_uniform((4, negatives), (seed, 4), 0, K, tf.int32)
        return tf.data.Dataset.from_tensor_slices(elements).repeat()

    return run.distribute(dataset_fn)


def one_word(shape, seed):
    return tf.random.stateless_uniform((*shape, 1), (seed, 2), 0, K, tf.int32)


def tensors_with_dimension(graph, size, seen=None) -> list:
    """(op type, op name, shape) of every tensor in `graph` and the functions it calls with a dimension `size`."""
    seen = set() if seen is None else seen
    found = []
    for op in graph.get_operations():
        for tensor in [*op.inputs, *op.outputs]:
            if tensor.shape.rank and size in tensor.shape.as_list():
                found.append((op.type, op.name, tuple(tensor.shape.as_list())))
                break
    for name, function in graph._functions.items():
        if name not in seen and hasattr(function, "graph"):
            seen.add(name)
            found += tensors_with_dimension(function.graph, size, seen)
    return found


def must_compile_calls(graph, seen=None) -> list:
    """Names of the function calls in `graph` (and the functions it calls) that XLA must compile."""
    seen = set() if seen is None else seen
    found = [
        op.name
        for op in graph.get_operations()
        if "_XlaMustCompile" in op.node_def.attr and op.node_def.attr["_XlaMustCompile"].b
    ]
    for name, function in graph._functions.items():
        if name not in seen and hasattr(function, "graph"):
            seen.add(name)
            found += must_compile_calls(function.graph, seen)
    return found


@pytest.mark.parametrize("optimizer", ["sgd", "easgd"])
@pytest.mark.parametrize("devices", [("/cpu:0",), ("/cpu:0", "/cpu:1")], ids=["1-device", "2-devices"])
def test_the_compiled_step_reads_only_the_batchs_rows_of_the_word_matrix(optimizer, devices):
    """Corrected for sampling, with extra negatives: the step gathers the log-inclusion of its words, no more."""
    config = run_config(optimizer, devices)
    config.head.negatives = 3
    run = new_run(config, MultiClassLogisticLoss(), inclusion=INCLUSION)
    assert set(run.words.tables) == {"log_inclusion"}
    run.start()
    stream = batches(run, one_word, negatives=3)
    assert tensors_with_dimension(run.traced_step(stream).graph, K) == []
    # The check sees a whole read where there is one: the model's full-K scores.
    full = tf.function(lambda images: run.centre(images)).get_concrete_function(tf.TensorSpec([2, 64, 64, 3]))
    assert tensors_with_dimension(full.graph, K)
    before = np.array(run.centre.head.kernel)
    for _ in range(4):
        assert np.isfinite(step(run, stream))
    run.synchronize()
    assert not np.allclose(np.array(run.centre.head.kernel), before)  # The centre moved.


def test_one_vs_all_corrected_reads_only_its_words_weights_and_the_full_head_reads_every_row():
    ova = OneVsAllLogisticLoss.from_counts(np.arange(1, K + 1), 2 * K)
    run = new_run(run_config(), ova, inclusion=INCLUSION)
    assert set(run.words.tables) == {"positive_weight", "negative_weight", "offset"}
    run.start()
    stream = batches(run, lambda shape, seed: tf.random.stateless_uniform((*shape, 3), (seed, 3), 0, K, tf.int32))
    assert tensors_with_dimension(run.traced_step(stream).graph, K) == []
    assert np.isfinite(step(run, stream))
    config = run_config(devices=("/cpu:0",))
    config.head.classes = "full"
    full = new_run(config, MultiClassLogisticLoss(), inclusion=INCLUSION)
    assert full.words.tables == {}  # The exact loss needs no correction.
    full.start()
    assert tensors_with_dimension(full.traced_step(batches(full, one_word)).graph, K)


def test_the_elastic_exchange_runs_before_every_tau_th_step_and_counts_its_bytes():
    run = new_run(run_config(tau=3), MultiClassLogisticLoss(), inclusion=INCLUSION)
    run.start()
    stream = batches(run, one_word)
    exchanges = []
    for _ in range(7):
        step(run, stream)
        exchanges.append(int(np.asarray(replica_copies(run.easgd.exchanges)[0])))
    assert exchanges == [1, 1, 1, 2, 2, 2, 3]  # Before steps 0, 3 and 6.
    dense = sum(
        int(np.prod(v.shape)) * 4 for i, v in enumerate(run.centre.trainable_variables) if i not in run.easgd.row_sparse
    )
    # Each replica sends the dense weights each exchange, plus at most a batch's rows per step since the last.
    row_bytes = (512 + 1) * 4 + 2 * 4
    assert 3 * 2 * dense < run.reduced_bytes() <= 3 * 2 * dense + 2 * (1 + 2 * 3 * 4) * row_bytes


def test_replicas_draw_their_own_dropout_masks():
    for optimizer in ("sgd", "easgd"):
        run = new_run(run_config(optimizer), MultiClassLogisticLoss(), inclusion=INCLUSION)
        run.start()
        seeds = seed_state_variables(run.model)
        assert seeds, "AlexNet's dropout layers hold seed state"
        for seed in seeds:
            first, second = (np.asarray(c) for c in replica_copies(seed))
            assert not np.array_equal(first, second)


def test_a_batch_of_padding_only_trains_with_one_vs_all():
    """Images none of whose words is among the first K (num_words below the dataset's K)."""
    run = new_run(run_config(tau=2), OneVsAllLogisticLoss.from_counts(np.full(K, 5), 100), inclusion=INCLUSION)
    run.start()
    stream = batches(run, lambda shape, seed: -tf.ones((*shape, 3), tf.int32))
    step(run, stream)
    before = np.array(run.centre.trainable_variables[0])
    losses = [step(run, stream) for _ in range(3)]
    run.synchronize()
    assert all(np.isfinite(losses)) and min(losses) > 0
    assert not np.allclose(np.array(run.centre.trainable_variables[0]), before)


@pytest.mark.slow  # Trains runs of its own: kept out of the fast set's 4 minutes.
def test_steps_in_one_compiled_loop_match_steps_one_call_each():
    """steps_per_loop=4 (calls split at tau=3's exchanges) is the same training as one step per call."""
    losses, kernels, exchanges = {}, {}, {}
    for per_loop in (1, 4):
        config = run_config(tau=3)
        config.train.steps_per_loop = per_loop
        run = new_run(config, MultiClassLogisticLoss(), inclusion=INCLUSION)
        run.start()
        stream = batches(run, one_word)
        if per_loop == 1:
            losses[per_loop] = [step(run, stream) for _ in range(8)]
        else:
            losses[per_loop] = [*run.run_steps(stream, 5).numpy(), *run.run_steps(stream, 3).numpy()]
        run.synchronize()
        assert int(run.step) == 8
        kernels[per_loop] = np.array(run.centre.trainable_variables[0])
        exchanges[per_loop] = int(np.asarray(replica_copies(run.easgd.exchanges)[0]))
    assert exchanges[1] == exchanges[4] == 3  # Before steps 0, 3 and 6 either way.
    np.testing.assert_allclose(losses[4], losses[1], rtol=1e-5)
    np.testing.assert_allclose(kernels[4], kernels[1], rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("switch", ["mixed_precision", pytest.param("jit_compile", marks=pytest.mark.slow)])
def test_mixed_precision_and_xla_train_like_float32(switch):
    """On one device: the switches act per replica, and XLA compiles once instead of once per device."""
    losses = {}
    for on in (False, True):
        config = run_config(tau=3, devices=("/cpu:0",))
        config.train[switch] = on
        run = new_run(config, MultiClassLogisticLoss(), inclusion=INCLUSION)
        run.start()
        losses[on] = run.run_steps(batches(run, one_word), 6).numpy()
        if on and switch == "mixed_precision":
            assert run.model.backbone.get_layer("conv1").compute_dtype == "bfloat16"
            assert run.model.head.compute_dtype == "float32"
            assert run.model.backbone.get_layer("conv1").kernel.dtype == "float32"
            assert run.centre.backbone.get_layer("conv1").compute_dtype == "float32"  # What is saved and served.
        if on and switch == "jit_compile":
            assert must_compile_calls(run.traced_step(batches(run, one_word)).graph)
    assert losses[True].dtype == np.float32 and np.all(np.isfinite(losses[True]))
    # bfloat16 rounding, or XLA's own dropout random stream, moves the losses a little, not more.
    np.testing.assert_allclose(losses[True], losses[False], rtol=0.03)
    if switch == "mixed_precision":
        assert not np.array_equal(losses[True], losses[False])  # bfloat16 did compute.


@pytest.mark.slow  # Trains runs of its own: kept out of the fast set's 4 minutes.
def test_a_second_run_in_the_same_process_exchanges_after_a_long_first_one():
    """The demo trains its comparison runs in the process that trained the main run (same devices)."""
    first = new_run(run_config(tau=1), MultiClassLogisticLoss(), inclusion=INCLUSION)
    first.start()
    first.run_steps(batches(first, one_word), 40)
    second = new_run(run_config(tau=1), OneVsAllLogisticLoss.from_counts(np.full(K, 5), 100), inclusion=INCLUSION)
    assert second.strategy is first.strategy
    second.start()
    losses = second.run_steps(
        batches(second, lambda shape, seed: tf.random.stateless_uniform((*shape, 3), (seed, 3), 0, K, tf.int32)), 6
    ).numpy()
    assert np.all(np.isfinite(losses))


@pytest.mark.slow  # ResNet-50 under XLA compiles for minutes on 2 cores: once, with the EASGD step the trainer runs.
@pytest.mark.parametrize("backbone, optimizer", [("resnet50", "easgd"), ("vit_test", "sgd"), ("vit_test", "easgd")])
def test_modern_backbones_train_under_the_same_loop_with_mixed_precision_and_xla(backbone, optimizer):
    """ResNet-50 (1/8 width) and the test-sized ViT, 32 px, over 2 logical CPUs, bfloat16 and XLA on: the same
    sparse step (no K-sized tensor) moves the centre's trunk and word rows."""
    config = run_config(optimizer, num_words=K, tau=2)
    config.model.update({"name": backbone, "image_size": 32, "width": 0.125 if backbone == "resnet50" else 1.0})
    config.input.update({"resize_size": 32, "crop_size": 32})
    config.train.update({"mixed_precision": True, "jit_compile": True})
    run = new_run(config, MultiClassLogisticLoss(), inclusion=INCLUSION)
    run.start()

    def dataset_fn(context):
        batch = context.get_per_replica_batch_size(run.global_batch_size)
        seed = context.input_pipeline_id
        return tf.data.Dataset.from_tensor_slices(
            {
                "images": tf.random.stateless_normal((4, batch, 32, 32, 3), (seed, 1)),
                "labels": one_word((4, batch), seed),
                "positions": tf.zeros((4, batch), tf.int64),
            }
        ).repeat()

    stream = run.distribute(dataset_fn)
    graph = run.traced_step(stream).graph
    assert tensors_with_dimension(graph, K) == [] and must_compile_calls(graph)
    assert run.model.backbone.layers[1].compute_dtype == "bfloat16" and run.model.head.compute_dtype == "float32"
    trunk, rows = np.array(run.centre.backbone.trainable_weights[0]), np.array(run.centre.head.kernel)
    losses = [step(run, stream) for _ in range(4)]
    run.synchronize()
    assert all(np.isfinite(losses))
    assert not np.allclose(np.array(run.centre.backbone.trainable_weights[0]), trunk)
    assert not np.allclose(np.array(run.centre.head.kernel), rows)


def test_a_cpu_split_that_cannot_be_applied_is_an_error_naming_the_setting():
    """conftest split this process's CPU into 4 devices before TensorFlow started."""
    from wsl_tf.train.training_run import split_cpu

    assert len(tf.config.list_logical_devices("CPU")) == 4  # Starts TensorFlow's devices, if nothing had yet.
    split_cpu(4)  # What the process has already: nothing to change.
    with pytest.raises(ValueError, match=r"train.logical_cpus=2: TensorFlow already started with 4 CPU device"):
        split_cpu(2)


def test_synchronous_sgd_on_two_replicas_is_one_replica_on_the_whole_global_batch():
    """Averaged, not summed: each replica's gradient counts 1/replicas, so 2 x 4 images train as 1 x 8 would.

    The exact head (every word every step) and no dropout make the two runs' losses the same function of the
    global batch; replica r of the pair sees images 4r..4r+3 of what the single replica sees."""
    kernels, losses = {}, {}
    images = tf.random.stateless_normal((3, 8, 64, 64, 3), (7, 1))
    labels = tf.random.stateless_uniform((3, 8, 1), (7, 2), 0, K, tf.int32)
    for devices in (("/cpu:0", "/cpu:1"), ("/cpu:0",)):
        config = run_config("sgd", devices=devices)
        config.train.batch_size_per_replica = 8 // len(devices)
        config.model.dropout = 0.0
        config.head.classes = "full"
        run = new_run(config, MultiClassLogisticLoss())
        run.start()
        start = [np.array(v) for v in run.model.trainable_variables]

        def dataset_fn(context, per_replica=config.train.batch_size_per_replica):
            # One pipeline feeds both replicas in turn: element 2s + r is replica r's batch of step s.
            def split(tensor):
                return tf.reshape(tensor, (-1, per_replica, *tensor.shape[2:]))

            elements = {"images": split(images), "labels": split(labels)}
            elements["positions"] = tf.zeros((elements["labels"].shape[0], per_replica), tf.int64)
            return tf.data.Dataset.from_tensor_slices(elements).repeat()

        losses[len(devices)] = run.run_steps(iter(run.distribute(dataset_fn)), 3).numpy()
        kernels[len(devices)] = [np.array(v) for v in run.model.trainable_variables]
        moved = max(np.abs(after - before).max() for after, before in zip(kernels[len(devices)], start))
        assert moved > 1e-4  # It trained.
    np.testing.assert_allclose(losses[2], losses[1], rtol=1e-5)
    for two, one in zip(kernels[2], kernels[1]):
        np.testing.assert_allclose(two, one, rtol=1e-4, atol=1e-6)


def test_release_in_background_drops_the_holders_objects_on_its_own_thread():
    deleted_on = []

    class Slow:
        def __del__(self):
            deleted_on.append(threading.current_thread())

    holder = [Slow()]
    thread = release_in_background(holder)
    thread.join()
    assert holder == [] and deleted_on == [thread] and thread is not threading.current_thread()
    assert not thread.daemon  # The process waits for a teardown in progress before exiting.

"""wsl-embed as an Apache Beam pipeline, for collections beyond one machine.

The same index as the local job (wsl_tf/collection.py): shard n holds images
n * shard_size .. (n + 1) * shard_size - 1 of the input's scan order, each
record built by `collection.image_record`, then bad.tsv and, last,
manifest.json. Run by any Beam runner:

1. The launcher scans the input (data_tools/collection_inputs.py) into
   (position, key, reference), leaving out the images of shards an earlier
   run finished (a rerun after a kill embeds only what is missing).
2. The references are spread over the workers, loaded into image bytes,
   and those that read go through Beam's RunInference with a model handler
   for the export's SavedModel (serving_default, so the export's own
   decoding, pixel limit and preprocessing), batched by Beam up to
   --batch_size; an unreadable image bypasses the model and is recorded
   with its reason.
3. The records are grouped by shard; each shard is written by one task, in
   position order, under a temporary name then renamed.

Every file goes through tf.io.gfile, so --output may be gs:// (a filesystem
every worker reaches), and so must --model be.
"""

import os

from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference

from data_tools.beam_preparer import RUNNERS
from data_tools.collection_inputs import CollectionInput
from wsl_tf import collection, fileio, records
from wsl_tf.errors import ConfigError


class SavedModelHandler(ModelHandler):
    """Beam's model handler for a SavedModel's serving_default: encoded images in, each image's row of its
    outputs (collection.ANSWERS) out. Beam's own TensorFlow handlers (tensorflow_inference) import
    tensorflow_hub, which needs tf-keras, which installs the full `tensorflow` package beside tensorflow-cpu;
    and they load through tf.keras.models.load_model, which Keras 3 refuses for a SavedModel. This one loads
    with tf.saved_model.load."""

    def __init__(self, saved_model_dir: str, max_batch_size: int):
        super().__init__(min_batch_size=1, max_batch_size=max_batch_size)
        self.saved_model_dir = saved_model_dir

    def load_model(self):
        import tensorflow as tf

        return tf.saved_model.load(self.saved_model_dir)

    def run_inference(self, batch, model, inference_args=None):
        import tensorflow as tf

        out = model.signatures["serving_default"](images=tf.constant(list(batch), tf.string))
        answers = {name: out[name].numpy() for name in collection.ANSWERS}
        return [
            PredictionResult(image, {name: answers[name][row] for name in answers}, self.saved_model_dir)
            for row, image in enumerate(batch)
        ]

    def get_metrics_namespace(self) -> str:
        return "wsl_embed"


class _Load:
    def __init__(self, inputs: CollectionInput):
        self.inputs = inputs

    def __call__(self, scanned):
        position, key, reference = scanned
        return position, key, self.inputs.load(reference)


class _Record:
    """(position, key, data, answer) -> (shard number, (position, serialized record))."""

    def __init__(self, dtype: str, thumbnails: bool, shard_size: int):
        self.dtype, self.thumbnails, self.shard_size = dtype, thumbnails, shard_size

    def __call__(self, position, key, data, answer):
        record = collection.image_record(key, data, answer, self.dtype, self.thumbnails)
        return position // self.shard_size, (position, record)


def _write_shard(numbered, output_dir: str):
    number, members = numbered
    path = os.path.join(output_dir, collection.SHARD_PATTERN.format(number))
    records.write_shard(path, (record for _, record in sorted(members, key=lambda member: member[0])))


def run_pipeline(
    inputs: CollectionInput,
    saved_model_dir: str,
    output_dir: str,
    export: dict,
    runner: str,
    batch_size: int = 64,
    shard_size: int = 4096,
    dtype: str = "float32",
    thumbnails: bool = True,
    pipeline_args=(),
    log=print,
) -> dict:
    """Embed inputs into output_dir with Beam's `runner`; the manifest's contents (as collection.write_index).

    pipeline_args: further Beam pipeline options (--project=..., --temp_location=...).
    """
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    if runner not in RUNNERS:
        raise ConfigError(f"--runner={runner}: expected local or one of {', '.join(RUNNERS)}")
    collection.start_index(output_dir, export, dtype, shard_size, thumbnails)
    scanned = [(position, key, reference) for position, (key, reference) in enumerate(inputs.scan())]
    counts = [min(shard_size, len(scanned) - start) for start in range(0, len(scanned), shard_size)]
    finished = {
        n for n in range(len(counts)) if fileio.exists(os.path.join(output_dir, collection.SHARD_PATTERN.format(n)))
    }
    todo = [item for item in scanned if item[0] // shard_size not in finished]
    log(f"{len(scanned):,} images in {len(counts)} shards; {len(finished)} finished earlier, {len(todo):,} to embed")
    handler = KeyedModelHandler(SavedModelHandler(saved_model_dir, batch_size))
    record = _Record(dtype, thumbnails, shard_size)
    if todo:
        with beam.Pipeline(options=PipelineOptions([f"--runner={runner}", *pipeline_args])) as pipeline:
            loaded = (
                pipeline
                | "Scanned" >> beam.Create(todo, reshuffle=False)
                | "Spread" >> beam.Reshuffle()
                | "Load" >> beam.Map(_Load(inputs))
            )
            readable = (
                loaded
                | "Readable" >> beam.Filter(lambda item: item[2] is not None)
                | "Keyed" >> beam.Map(lambda item: ((item[0], item[1]), item[2]))
                | "Embed" >> RunInference(handler)
                | "Answered" >> beam.MapTuple(lambda where, result: record(*where, result.example, result.inference))
            )
            unreadable = (
                loaded
                | "Unreadable" >> beam.Filter(lambda item: item[2] is None)
                | "NotRead" >> beam.MapTuple(lambda position, key, _: record(position, key, None, None))
            )
            _ = (
                (readable, unreadable)
                | "Records" >> beam.Flatten()
                | "ByShard" >> beam.GroupByKey()
                | "WriteShard" >> beam.Map(_write_shard, output_dir)
            )
    return collection.finish_index(output_dir, export, dtype, shard_size, counts)

"""wsl-prepare as an Apache Beam pipeline, for collections beyond one machine.

The same sources, and the same rules (data_tools/preparation.py: text and
list rules, splits, dictionary, record encoding, statistics, dataset.json)
as the local job (data_tools/preparer.py), run by any Beam runner (DirectRunner,
DataflowRunner, FlinkRunner, SparkRunner):

1. The source is scanned in one task (a scan lists items: metadata lines,
   file names), then reshuffled so that loading, the text rules and image
   re-encoding, the costly part, spread over all workers.
2. A record that cannot be prepared goes to a side output, counted (Beam
   metric `wsl_prepare/skipped`) and listed in skipped.tsv: it never fails
   the pipeline. Records are grouped by key, then by image and words, and
   the earliest of each group in input order kept (the scan numbers them),
   so duplicates are the local job's (preparation.Duplicates).
3. Train words are counted as a combine (Count.PerElement); the dictionary
   is built from the counts as the local job builds it, and reaches the
   write as a side input.
4. Each record goes to the shard its key hashes to; each shard is written by
   one task, its records in key order, under a temporary name then renamed.
   A last single task builds the train index from the shards' record sizes
   and word ids, and writes vocab.tsv, stopwords.tsv, skipped.tsv and, last,
   dataset.json.

Every file goes through tf.io.gfile, so OUTPUT_DIR may be gs:// or hdfs://
(a filesystem every worker reaches). The per-split records, vocabulary and
dataset.json counts equal the local job's on the same input; which shard of
a split holds a record differs (hash here, input order there).
"""

import hashlib
import itertools
import json
import os

from data_tools import preparation, worker
from data_tools.preparation import ChunkSummary, PrepareError, PrepareOptions
from data_tools.preparer import DatasetPreparer
from data_tools.sources import base
from wsl_tf import fileio, records

RUNNERS = ("DirectRunner", "DataflowRunner", "FlinkRunner", "SparkRunner")
_SKIPPED = "skipped"


def shard_of(key: str, num_shards: int) -> int:
    """The shard of its split a record goes to: a hash of its key, independent of the split's own hash."""
    return int.from_bytes(hashlib.sha256(b"shard\0" + key.encode()).digest()[:8], "big") % num_shards


def _scan(source: base.Source, max_records: int):
    items = source.scan()
    return itertools.islice(items, max_records) if max_records else items


class _Prepare:
    """Load, clean and re-encode one item; a Skip goes to the side output."""

    def __init__(self, task: worker.RecordTask, options: PrepareOptions, lists=None):
        self.task, self.options, self.lists = task, options, lists

    def __call__(self, positioned):
        import apache_beam as beam

        position, item = positioned
        result = worker.prepare_record(item, self.task)
        if isinstance(result, base.Skip):
            beam.metrics.Metrics.counter("wsl_prepare", "skipped").inc()
            return [beam.pvalue.TaggedOutput(_SKIPPED, [result.key, result.reason, result.detail])]
        return [(position, *preparation.split_record(result, self.options, self.lists))]


def _earliest(grouped, reason: str, detail: str):
    """Of a group of (position, split, record) sharing a key or a content, the earliest in input order; the
    others to the skipped output, as preparation.Duplicates skips them."""
    import apache_beam as beam

    _, members = grouped
    first, *later = sorted(members, key=lambda member: member[0])
    yield first
    for _, _, record in later:
        beam.metrics.Metrics.counter("wsl_prepare", "skipped").inc()
        yield beam.pvalue.TaggedOutput(_SKIPPED, [record.key, reason, detail])


def _write_shard(keyed, dictionary, options: PrepareOptions):
    """Write one shard (its records in key order); its stats and, for train, (size, ids) per record."""
    import tensorflow as tf

    (split, shard), prepared = keyed
    vocab = dictionary[0]
    count = options.shard_counts()[split]
    path = os.path.join(options.output_dir, records.shard_name(split, shard, count))
    temp = fileio.temp_path_for(path)
    stats = preparation.empty_stats()
    entries = []
    with tf.io.TFRecordWriter(temp) as writer:
        for record in sorted(prepared, key=lambda r: r.key):
            encoded = preparation.encode_record(record, split, vocab, stats)
            if encoded is None:
                continue
            serialized, ids = encoded
            writer.write(serialized)
            if split == "train":
                entries.append((len(serialized), ids))
    fileio.commit(temp, path)
    return split, shard, stats[split], entries


def _finish(_, shards, skipped, items, dictionary, source, options: PrepareOptions, lists):
    """The last task: train index, vocabulary files, skipped.tsv, then dataset.json."""
    from wsl_tf.input.index import TrainIndexBuilder

    vocab, stopwords = dictionary
    shards = list(shards)
    counts = options.shard_counts()
    written = {(split, shard) for split, shard, _, _ in shards}
    for split, count in counts.items():  # A shard no record hashed to is still written, empty.
        for shard in range(count):
            if (split, shard) not in written:
                shards.append(_write_shard(((split, shard), []), dictionary, options))
    index = TrainIndexBuilder(counts["train"], len(vocab))
    stats = preparation.empty_stats()
    for split, shard, shard_stats, entries in sorted(shards, key=lambda s: (s[0], s[1])):
        preparation.add_stats(stats, split, shard_stats)
        for length, ids in entries:
            index.add(shard, length, ids)
    out = options.output_dir
    summaries = [ChunkSummary(items, items - len(skipped), sorted(skipped), {})]
    if sum(stats[s]["images"] for s in records.SPLITS) + stats["train"]["no_target"] == 0:
        skipped_file = os.path.join(out, records.SKIPPED_FILE)
        fileio.write_text_atomic(skipped_file, preparation.skipped_tsv(summaries))
        raise preparation.nothing_usable(summaries, skipped_file)
    index.save(os.path.join(out, records.TRAIN_INDEX_FILE))
    stats["max_words_per_image"] = index.max_words_per_record
    vocab.save(os.path.join(out, records.VOCAB_FILE))
    stopwords.save(os.path.join(out, records.STOPWORDS_FILE))
    fileio.write_text_atomic(os.path.join(out, records.SKIPPED_FILE), preparation.skipped_tsv(summaries))
    metadata = preparation.dataset_metadata(source, options, lists, summaries, vocab, stopwords, stats)
    fileio.write_json_atomic(os.path.join(out, records.METADATA_FILE), metadata, sort_keys=True)
    return metadata


def run_pipeline(source: base.Source, options: PrepareOptions, runner: str, pipeline_args=(), log=print) -> dict:
    """Prepare options.output_dir with Beam's `runner`; returns the contents of dataset.json.

    pipeline_args: further Beam pipeline options (--project=..., --temp_location=...).
    """
    try:
        import apache_beam as beam
        from apache_beam.options.pipeline_options import PipelineOptions
    except ImportError:
        raise PrepareError(f"--runner={runner} needs Apache Beam: pip install 'wsl_tf[beam]'") from None
    if runner not in RUNNERS:
        raise PrepareError(f"--runner={runner}: expected local or one of {', '.join(RUNNERS)}")
    preparer = DatasetPreparer(source, options, log=log)  # Validates the options, loads a fixed --vocab.
    done = preparer.completed_metadata()
    if done is not None:
        log(f"{options.output_dir} is already complete for these inputs and options; nothing to do.")
        return done
    import tensorflow as tf

    tf.io.gfile.makedirs(options.output_dir)
    task = worker.RecordTask(source, options.image_size, options.max_pixels)
    fixed = preparer.fixed_vocab

    with beam.Pipeline(options=PipelineOptions([f"--runner={runner}", *pipeline_args])) as pipeline:
        items = (
            pipeline
            | "Start" >> beam.Create([None])
            | "Scan" >> beam.FlatMap(lambda _: enumerate(_scan(source, options.max_records)))  # With input order.
        )
        read = items | "CountItems" >> beam.combiners.Count.Globally()
        prepared = (
            items
            | "Spread" >> beam.Reshuffle()
            | "Prepare"
            >> beam.FlatMap(_Prepare(task, options, preparer.stopword_lists)).with_outputs(_SKIPPED, main="records")
        )
        by_key = (
            prepared.records
            | "KeyOf" >> beam.Map(lambda member: (member[2].key, member))
            | "SameKey" >> beam.GroupByKey()
            | "FirstOfKey"
            >> beam.FlatMap(_earliest, base.DUPLICATE_KEY, "the key of an earlier record").with_outputs(
                _SKIPPED, main="records"
            )
        )
        by_content = (
            by_key.records
            | "ContentOf" >> beam.Map(lambda member: (preparation.Duplicates.content(member[2]), member))
            | "SameContent" >> beam.GroupByKey()
            | "FirstOfContent"
            >> beam.FlatMap(_earliest, base.DUPLICATE, "the image and words of an earlier record").with_outputs(
                _SKIPPED, main="records"
            )
        )
        records_by_split = by_content.records | "Unpositioned" >> beam.Map(lambda member: (member[1], member[2]))
        train_counts = (
            records_by_split
            | "TrainOnly" >> beam.Filter(lambda pair: pair[0] == "train")
            | "TrainWords" >> beam.FlatMap(lambda pair: pair[1].words)
            | "CountWords" >> beam.combiners.Count.PerElement()
            | "AllCounts" >> beam.combiners.ToList()
        )
        dictionary = train_counts | "Dictionary" >> beam.Map(preparation.dictionary, options, fixed, print)
        shards = (
            records_by_split
            | "ToShard"
            >> beam.Map(lambda pair: ((pair[0], shard_of(pair[1].key, options.shard_counts()[pair[0]])), pair[1]))
            | "GroupShards" >> beam.GroupByKey()
            | "WriteShards" >> beam.Map(_write_shard, beam.pvalue.AsSingleton(dictionary), options)
            | "AllShards" >> beam.combiners.ToList()
        )
        skipped = (
            (prepared[_SKIPPED], by_key[_SKIPPED], by_content[_SKIPPED])
            | "EverySkip" >> beam.Flatten()
            | "AllSkipped" >> beam.combiners.ToList()
        )
        _ = (
            pipeline
            | "Last" >> beam.Create([None])
            | "Finish"
            >> beam.Map(
                _finish,
                beam.pvalue.AsSingleton(shards),
                beam.pvalue.AsSingleton(skipped),
                beam.pvalue.AsSingleton(read),
                beam.pvalue.AsSingleton(dictionary),
                source,
                options,
                preparer.stopword_lists,
            )
        )
    metadata = json.loads(fileio.read_text(os.path.join(options.output_dir, records.METADATA_FILE)))
    images = ", ".join(f"{split} {metadata['images'][split]}" for split in records.SPLITS)
    log(
        f"wrote {options.output_dir} with {runner}: {metadata['vocab_size']} words; images {images}; "
        f"skipped {metadata['skipped_total']} (listed in skipped.tsv)"
    )
    for line in preparation.split_warnings(metadata, options):
        log(line)
    return metadata

"""Finding the damaged record of a shard by its TFRecord checksum."""

import tensorflow as tf

from wsl_tf.input.reader import find_damaged_record


def write_records(path, payloads):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for payload in payloads:
            writer.write(payload)


def test_the_first_record_failing_its_checksum_is_named_by_its_byte_offset(tmp_path):
    payloads = [b"a" * 10, b"b" * 20, b"c" * 30]
    good, bad = tmp_path / "good.tfrecord", tmp_path / "bad.tfrecord"
    write_records(good, payloads)
    write_records(bad, payloads)
    content = bytearray(bad.read_bytes())
    second = 12 + 10 + 4 + 12  # Record 0's header, data and footer, then record 1's header: its data.
    assert content[second : second + 20] == b"b" * 20
    content[second + 5] ^= 0x01
    bad.write_bytes(bytes(content))
    assert find_damaged_record([str(good)]) is None
    assert find_damaged_record([str(good), str(bad)]) == (str(bad), f"the record at byte {second} fails its checksum")

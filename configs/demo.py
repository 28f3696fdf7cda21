"""The demo: real clip art fetched from Debian, small images, CPU-sized.

Open Clip Art's ~7,400 drawings carry titles, descriptions and keywords: a
small weakly supervised image-text corpus. With so few images the paper's 500
stop words would eat most of the vocabulary, so the demo drops 50.
"""

import ml_collections


def get_config():
    config = ml_collections.ConfigDict()
    config.data = ml_collections.ConfigDict(
        dict(
            corpus="openclipart",
            image_size=64,
            vocab_size=1000,
            num_stopwords=50,
            num_shards=4,
            val_fraction=0.05,
            test_fraction=0.1,
            max_records=0,
        )
    )
    return config

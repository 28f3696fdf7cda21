import ml_collections


def model_config(name, num_words=50, image_size=64, width=0.125, **extra):
    return ml_collections.ConfigDict(
        dict(name=name, num_words=num_words, image_size=image_size, width=width, **extra))

"""tf.data input: the train index, samplers, preprocessing and pipelines."""

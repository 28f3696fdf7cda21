"""tf.data input: a prepared dataset opened once, the train index, samplers, preprocessing and pipelines."""

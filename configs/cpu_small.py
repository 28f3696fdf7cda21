"""A small CPU run for tests and trying things out: a 1/8-width AlexNet on 64 px.

Short epochs (256 images), at least one epoch per learning rate, a checkpoint
every 4 steps, deterministic ops, one device.

  wsl-train --config=configs/cpu_small.py --workdir=/tmp/run --config.data.dir=runs/demo/data
"""

from wsl_tf.configs import paper


def get_config():
    config = paper.get_config("alexnet,k=100")
    config.model.update({"image_size": 64, "width": 0.125})
    config.input.update({"resize_size": 72, "crop_size": 64, "block_size": 64})
    config.optimizer.update({"learning_rate": 0.05, "tau": 4})
    config.train.update(
        {
            "batch_size_per_replica": 32,
            "epoch_size": 256,
            "max_epochs": 3,
            "checkpoint_every_steps": 4,
            "devices": ("/cpu:0",),
            "deterministic": True,
        }
    )
    config.schedule.update({"min_epochs_per_lr": 1})
    config.eval.update({"val_images": 128, "batch_size": 64})
    return config

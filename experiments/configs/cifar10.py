"""CIFAR-10 with a ResNet-18, for GPU/TPU users (the paper's setting, scaled down).

Command (needs `tfds build cifar10 --file_format=array_record` once, with network):
  python -m experiments.main --config=experiments/configs/cifar10.py --workdir=runs/cifar10

Expected runtime: not measured yet on an accelerator (no GPU was lent to the session that
wrote it); a ResNet-18 trains at about 45 images/s on 2 CPU cores, so this config is not
meant for CPUs. Expected result: entropy's AUBC above random's, as in DeepAL+ (Zhan et al.
2022).
"""

from experiments.configs import default


def get_config():
  config = default.get_config()
  config.dataset = "cifar10"
  config.model = "resnet18"
  config.num_initial = 1000
  config.query_size = 1000
  config.quota = 10000
  config.train.batch_size = 128
  config.train.epochs = 50
  config.train.min_steps = 2000
  config.train.optimizer = "sgd"
  config.train.learning_rate = 0.05
  config.train.momentum = 0.9
  config.train.weight_decay = 5e-4
  config.train.augment = True
  config.train.crop_padding = 4
  config.train.eval_chunk = 1000
  return config

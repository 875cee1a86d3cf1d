from setuptools import find_packages, setup

setup(
  name="autoal_jax",
  version="0.1.0",
  description="Automated active learning (AutoAL) in JAX: strategies, search, loop.",
  long_description=open("README.md", encoding="utf-8").read(),
  long_description_content_type="text/markdown",
  packages=find_packages(include=["autoal_jax", "autoal_jax.*"]),
  python_requires=">=3.10",
  install_requires=[
    "jax>=0.4.35",
    "flax>=0.10",
    "optax>=0.2.4",
    "chex>=0.1.88",
    "numpy>=1.26",
    "tensorflow-datasets>=4.9.7",
    "importlib_resources>=6",
    "array_record>=0.5",
    "orbax-checkpoint>=0.11",
    "pillow>=10",
    "ml_collections>=0.1.1",
    "absl-py>=2",
    "tqdm>=4.66",
    "matplotlib>=3.8",
  ],
  extras_require={"test": ["pytest>=8", "ruff>=0.6", "hypothesis>=6.100"]},
)

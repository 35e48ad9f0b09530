"""batchup's ``datasets`` package on ladle's standard datasets (downloaded, verified, cached as stores).

``from ladle.compat.batchup.datasets import mnist; ds = mnist.MNIST(n_val=10000)``.

Example:
    >>> from ladle.compat.batchup.datasets import cifar10
    >>> cifar10.CIFAR10.NAME
    'cifar10'
"""

from . import cifar10, cifar100, fashion_mnist, mnist, stl, svhn, usps

__all__ = ["cifar10", "cifar100", "fashion_mnist", "mnist", "stl", "svhn", "usps"]

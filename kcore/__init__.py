"""kcore: a Kubernetes-compatible cluster core in Python with Cython hot paths."""

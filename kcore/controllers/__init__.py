"""The controller manager and its controllers (kube-controller-manager's loops).

Each controller is one module and one `QueueController` subclass (base.py): its constructor
takes `(client, factory, recorder)`, asks the shared informer factory for the informers it
needs and registers handlers that only enqueue keys; `sync(key)` reconciles one key from the
caches through the API. `manager.registry()` names them and `ControllerManager` runs them on
one factory under a leader-election Lease; `kcore controller-manager` (cli.py) is the process.

Shared helpers: controller_utils.py (expectations, pod predicates and ranking, ownerReference
patches, slow start), deployment_util.py (the Deployment arithmetic, pure functions).
"""

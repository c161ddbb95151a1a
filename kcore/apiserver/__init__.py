"""The kcore API server: the Kubernetes REST API (discovery, CRUD, watch, subresources,
server-side printing) over a revisioned store, with bearer-token auth, admission, metrics and
max-in-flight limiting. `app.start_apiserver` assembles a running one from a data dir."""

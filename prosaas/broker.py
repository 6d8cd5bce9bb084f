"""`dramatiq prosaas.broker actors` (and `prosaas worker`, which runs it under gevent): the broker of a worker
process, built from this environment's settings. Everything else calls prosaas.broker_stack.install_broker."""
from prosaas.broker_stack import install_broker, prepare_worker_process
from prosaas.runtime import get_runtime

prepare_worker_process(get_runtime().settings)
broker = install_broker(get_runtime())

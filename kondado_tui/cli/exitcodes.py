"""Exit statuses of every command. Cron and monitoring scripts rely on them."""

EXIT_OK = 0  # done; for `status`: every pipeline healthy
EXIT_UNHEALTHY = 1  # `status`: a pipeline is in trouble; `alert-test`: the command failed
EXIT_USAGE = 2  # a usage or config error: the message says what to fix
EXIT_API = 3  # the API could not be asked (network, credentials, rate limit) or refused
EXIT_BUG = 70  # an unexpected error (a bug): reported without a traceback
EXIT_IO = 74  # the output could not be written (a full disk): the message says which
EXIT_INTERRUPTED = 130  # Ctrl-C

"""The one exception type a user can act on."""


class PipelineError(Exception):
    """Bad input the user can fix. The message names the problem and the fix.

    Stage entry points turn it into one log line and exit status 1, with no traceback.
    """

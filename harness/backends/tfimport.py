"""Importing TensorFlow and Keras without their start-up chatter on stderr.

TensorFlow 2.21 prints oneDNN and absl notices on stderr when it loads, whatever ``TF_CPP_MIN_LOG_LEVEL``
says. The first import runs with stderr (the file descriptor, since the notices come from C++) sent to a
temporary file; when the import fails, what it printed is shown with the error.
"""

from __future__ import annotations

import os
import sys
import tempfile


def ensure_tensorflow() -> None:
    """Import ``tensorflow`` and ``keras`` once, quietly."""
    if "tensorflow" in sys.modules and "keras" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow as tf

            tf.config.list_physical_devices()  # device set-up prints too
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)

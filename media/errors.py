"""The error family of :mod:`media`.

Every error raised on purpose by the project derives from :class:`MediaError` and from the
built-in exception that describes it best, so callers may catch either.
"""

from __future__ import annotations

from schemas import SchemaError

__all__ = ["MediaError", "UnknownTypeError", "SchemaError", "IntegrityError", "PluginWarning"]


class MediaError(Exception):
    """Base class of the errors raised by media-artifacts."""


class UnknownTypeError(MediaError, ValueError):
    """No registered value type has this tag.

    ``tag`` is the tag that was asked for, ``known`` the registered tags in order;
    ``broken`` says why the installed plugin for ``tag`` could not be loaded, if one is.
    """

    def __init__(self, tag: object, known: list[str], broken: str | None = None):
        self.tag = tag
        self.known = list(known)
        self.broken = broken
        if broken is not None:  # installing it again would not help: say what went wrong
            advice = (
                f"The plugin for {tag!r} is installed but could not be loaded ({broken}); "
                "fix or upgrade that plugin."
            )
        else:
            advice = (
                "To read this type, install the plugin that provides it (it registers itself "
                "through the entry-point group 'media.types') or call media.register(cls)."
            )
        super().__init__(
            f"unknown media type tag {tag!r}; known tags: {', '.join(self.known) or '(none)'}. "
            + advice
        )


class IntegrityError(MediaError, ValueError):
    """Stored bytes do not match what their manifest or JSON says (digest, size, header)."""


class PluginWarning(UserWarning):
    """An installed plugin in the entry-point group ``media.types`` could not be loaded."""

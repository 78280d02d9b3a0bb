"""media: value types that write themselves to JSON plus a media file, and their registry.

``Audio``, ``AudioSegment`` (a range of a clip's file) and ``Table`` are built in; custom
types subclass :class:`Value` or :class:`Media` and are registered with :func:`register` (or
installed as plugins through the entry-point group ``media.types``).  ``media`` never
imports ``artifacts``: values reach runs and stores through the protocols in
:mod:`media.value`.
"""

from .audio import Audio
from .errors import IntegrityError, MediaError, PluginWarning, SchemaError, UnknownTypeError
from .registry import ENTRY_POINT_GROUP, lookup, register, type_mapping
from .segment import AudioSegment
from .table import OpaqueValue, Table, load_cell
from .value import (
    ArtifactSource,
    FolderSource,
    Media,
    MediaSource,
    MediaTarget,
    RunFolder,
    Value,
    trust_json_of,
)

__all__ = [
    "Value",
    "Media",
    "Audio",
    "AudioSegment",
    "Table",
    "OpaqueValue",
    "ArtifactSource",
    "FolderSource",
    "MediaSource",
    "MediaTarget",
    "RunFolder",
    "register",
    "lookup",
    "type_mapping",
    "load_cell",
    "ENTRY_POINT_GROUP",
    "MediaError",
    "UnknownTypeError",
    "SchemaError",
    "IntegrityError",
    "PluginWarning",
]

BUILTIN_TYPES = (Audio, AudioSegment, Table)
for _cls in BUILTIN_TYPES:
    register(_cls)
del _cls
# their to_json is tested against their schemas: not checked again on every write (an
# OpaqueValue writes back the JSON it read)
trust_json_of(*BUILTIN_TYPES, OpaqueValue)

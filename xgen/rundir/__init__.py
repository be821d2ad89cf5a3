"""The run directory: the one contract between xgen's stages.

Every path (``layout``), every status and the listing of cells (``status``), the eval row
(``evalrows``), atomic writes, directory swaps, digests and tolerant JSONL (``files``) and locks
(``locks``) live here, and nowhere else: no other module spells a run-directory path or a status
string. See ``xgen.rundir.layout`` for the tree.
"""

# The package's front: `from xgen import rundir` then `rundir.cell_dir(...)`, `rundir.DONE`, ...
from xgen.rundir.files import (DamagedFile, append_jsonl, atomic_write_bytes, atomic_write_json,  # noqa: F401
                               atomic_write_text, build_directory, read_json, read_jsonl, rewrite_jsonl, sha256_file,
                               verify_digests)
from xgen.rundir.layout import *  # noqa: F401,F403
from xgen.rundir.status import (DIVERGED, DONE, FAILED, PENDING, RUNNING, STATES, STOPPED, CellEntry,  # noqa: F401
                                cell_states, is_done, list_cells, read_cell_record, read_status, state_of,
                                write_status)

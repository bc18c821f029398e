"""The folder side of ingest: a folder of labelled images, checked whole, then read.

    <folder>/train/<class name>/<image files>
    <folder>/test/<class name>/<image files>

The layout and the class ids are those of tfds's `ImageFolder` (ids by class name, sorted),
but the folder is read as hostile input, which ImageFolder does not do (it follows links,
reads hidden folders as classes, hangs on a FIFO and holds every path in memory twice; see
docs/own-data.md). By job:

- `layout`: the one walk of the folder, checking every name and file as it goes;
- `survey`: every image's header read during that walk (size and mode, no pixels), and the
  schema inferred from them; it keeps each class folder's file names, a few bytes a file;
- `read`: the images decoded into the schema's size and channels, with their keys;
- `problems`: the one collector of what is wrong, refused in one line.
"""

from components.ingest.folder.read import examples, record_key
from components.ingest.folder.survey import Survey, survey

__all__ = ["Survey", "examples", "record_key", "survey"]

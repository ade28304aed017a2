"""What an export produced: parameters, file size and speed."""

import dataclasses
import gzip
import io
import os
import pathlib
import tarfile


@dataclasses.dataclass(frozen=True)
class ExportReport:
    """Figures of one exported model.

    Attributes:
        path: where the model was written (a file for TFLite, a directory
            for a SavedModel).
        format: `"saved_model"` or `"tflite"`.
        quantize: `None`, `"dynamic"` or `"int8"`.
        compacted: whether dead units were removed (`keras_gnap.compact`)
            or the gates only folded into the kernels (`keras_gnap.strip`).
        sparse_weights: whether TFLite stores sparse kernels in a sparse
            format (with `sparse_weights="auto"`, whether that file was
            the smaller).
        effective_params: `keras_gnap.count_params` of the model given:
            non-zero kernel entries of live units plus their biases, batch
            normalisation folded.
        keras_params: `count_params()` of the plain Keras model that was
            converted: every kernel entry and bias it stores, zeros
            included.
        size_bytes: size on disk (all files, for a SavedModel).
        gzipped_bytes: size once compressed with gzip (level 9; a tar of
            the directory for a SavedModel), a fair measure of what the
            zeros left in kept units really cost.
        latency_ms: median time to classify one image (batch 1, one
            thread) in the LiteRT interpreter, in milliseconds, including
            copying the image in and the output out; `None` for a
            SavedModel.
        latency_runs: number of timed runs behind `latency_ms`.
    """

    path: str
    format: str
    quantize: str
    compacted: bool
    sparse_weights: bool
    effective_params: int
    keras_params: int
    size_bytes: int
    gzipped_bytes: int
    latency_ms: float = None
    latency_runs: int = 0

    def lines(self):
        """Returns the report as a list of printable lines."""
        kind = "TFLite" if self.format == "tflite" else "SavedModel"
        details = [kind, self.quantize or "float32"]
        details.append("compacted" if self.compacted else "not compacted")
        if self.sparse_weights:
            details.append("sparse weights")
        lines = [
            f"Exported {self.path} ({', '.join(details)})",
            f"  effective params (keras_gnap.count_params): "
            f"{self.effective_params:,}",
            f"  Keras params of the exported model: {self.keras_params:,}",
            f"  size: {self.size_bytes:,} bytes, "
            f"{self.gzipped_bytes:,} gzipped",
        ]
        if self.latency_ms is not None:
            lines.append(
                f"  latency: {self.latency_ms:.4f} ms per image (LiteRT, "
                f"batch 1, 1 thread, median of {self.latency_runs} runs)"
            )
        return lines

    def __str__(self):
        return "\n".join(self.lines())


def size_on_disk(path):
    """Returns the size in bytes of a file, or of all files in a directory.

    Args:
        path: str or path.

    Returns:
        An int.
    """
    path = pathlib.Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def gzipped_size(path):
    """Returns the size in bytes of `path` compressed with gzip, level 9.

    A directory is archived with tar first (names sorted, so the figure
    does not depend on the file system's order).

    Args:
        path: str or path.

    Returns:
        An int.
    """
    path = pathlib.Path(path)
    if path.is_file():
        return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for file in sorted(path.rglob("*")):
            name = os.fspath(file.relative_to(path))
            archive.add(file, arcname=name, recursive=False)
    return len(gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0))

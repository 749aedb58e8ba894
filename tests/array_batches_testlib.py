"""`ArrayBatches`: a minimal user-written `keras.utils.PyDataset`, for tests of the data paths."""

import keras


class ArrayBatches(keras.utils.PyDataset):
    """A `PyDataset` over in-memory arrays: items are `x`, `(x, y)` or `(x, y, w)` batches."""

    def __init__(self, arrays, batch_size):
        super().__init__()
        self.arrays = arrays if isinstance(arrays, tuple) else (arrays,)
        self.batch_size = batch_size

    def __len__(self):
        return -(-len(self.arrays[0]) // self.batch_size)

    def __getitem__(self, index):
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        batch = tuple(a[rows] for a in self.arrays)
        return batch if len(batch) > 1 else batch[0]

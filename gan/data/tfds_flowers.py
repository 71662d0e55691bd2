"""Oxford-102 flowers with captions from their pixels, as a TensorFlow Datasets builder::

    import tensorflow_datasets as tfds
    import gan.data.tfds_flowers  # registers "captioned_flowers102"

    builder = tfds.builder("captioned_flowers102/64")          # or /32, /38, /76: the image size
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir="path/to/oxford_flowers102"))
    train = builder.as_dataset(split="train")                   # 7,034 images of the 82 train+val classes

``manual_dir`` holds the official files (``102flowers.tgz``, ``imagelabels.mat``, ``setid.mat``, and optionally
``class_names.json``). The splits are Reed et al.'s class-disjoint ones (:data:`gan.data.flowers.REED_CLASSES`):
``train`` the 82 train+val classes, ``test`` the 20 test classes. Each example holds its ``id`` (Oxford image
number), the centred square ``image``, the class ``label`` (0..101) and ``class_name``, the ``petal_colour`` and
``centre_colour`` measured by :mod:`gan.data.flower_colours`, the ten training ``captions`` and the
``heldout_captions`` (phrasings never used in training) of :mod:`gan.data.flower_captions`.

:func:`load_prepared` gives what :func:`gan.data.flowers.load_flowers102` gives for Reed et al.'s split with pixel
captions, read from this dataset: prepared once into kzoo's cache (keyed by the data files' sha256), then
read from the shards. Training reads it this way (:func:`gan.data.load_examples`).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from gan.data.examples import Examples
from gan.data.flower_captions import HELDOUT_TEMPLATES, flower_captions
from gan.data.flower_colours import COLOUR_NAMES
from gan.data.flowers import (
    PREPARED_IMAGE_SIZES as IMAGE_SIZES,
)
from gan.data.flowers import REED_CLASSES, URL, cache_root, check_data_dir, class_names, subset_ids
from zoo.cache import exclusive
from zoo.data.tfds_prepare import download_and_prepare
from zoo.hashing import sha256_file_once, sha256_text


@dataclasses.dataclass
class CaptionedFlowersConfig(tfds.core.BuilderConfig):
    """The image size (the centred square of each photograph, resized)."""

    image_size: int = 64


class CaptionedFlowers102(tfds.core.GeneratorBasedBuilder):
    """Oxford-102 flowers in Reed et al.'s class-disjoint split, with captions written from each image's colours."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: Reed et al.'s split, pixel captions (kzoo's colour extractor)."}
    BUILDER_CONFIGS = [CaptionedFlowersConfig(name=str(size), description=f"{size}x{size} images", image_size=size)
                       for size in IMAGE_SIZES]
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        f"Put 102flowers.tgz, imagelabels.mat and setid.mat from {URL} (and optionally class_names.json) in the "
        "manual_dir of tfds.download.DownloadConfig.")

    def _info(self) -> tfds.core.DatasetInfo:
        size = self.builder_config.image_size
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "id": tfds.features.Scalar(dtype=np.int64, doc="Oxford image number (image_<id>.jpg)"),
                "image": tfds.features.Image(shape=(size, size, 3)),
                "label": tfds.features.ClassLabel(num_classes=102),
                "class_name": tfds.features.Text(),
                "petal_colour": tfds.features.ClassLabel(names=list(COLOUR_NAMES)),
                "centre_colour": tfds.features.ClassLabel(names=list(COLOUR_NAMES)),
                "captions": tfds.features.Sequence(tfds.features.Text()),
                "heldout_captions": tfds.features.Sequence(tfds.features.Text()),
            }),
            supervised_keys=("image", "captions"),
            disable_shuffling=True,  # image-number order, so that a seeded subset picks the same images
            homepage=URL,
        )

    def _split_generators(self, dl_manager):
        return {split: self._generate_examples(dl_manager.manual_dir, split) for split in REED_CLASSES}

    def _generate_examples(self, manual_dir, split: str):
        from gan.data.flowers import load_flowers102

        examples = load_flowers102(manual_dir, split, self.builder_config.image_size, protocol="reed2016",
                                   captions="pixels", cache_dir=self._extraction_dir)
        names = examples.class_names
        for index, image_id in enumerate(examples.ids):
            label = int(examples.labels["class"][index])
            petal = COLOUR_NAMES[examples.labels["petal"][index]]
            centre = COLOUR_NAMES[examples.labels["centre"][index]]
            yield int(image_id), {
                "id": int(image_id), "image": examples.images[index], "label": label, "class_name": names[label],
                "petal_colour": petal, "centre_colour": centre, "captions": examples.caption_groups[index],
                "heldout_captions": flower_captions(names[label], petal, centre, HELDOUT_TEMPLATES)}

    _extraction_dir = None  # where the archive is extracted to (None: kzoo's cache)


def prepared_builder(data_dir, image_size: int = 64, cache_dir=None) -> CaptionedFlowers102:
    """The ``captioned_flowers102/<image_size>`` builder of the files in ``data_dir``, prepared under kzoo's cache
    (``flowers102/tfds/<key>``, the key from the data files' names and sha256, so a copy of the same files reuses
    it and a changed file gets a fresh preparation)."""
    directory = check_data_dir(data_dir)
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {', '.join(map(str, IMAGE_SIZES))} for the prepared flowers, "
                         f"got {image_size}")
    stamp = [(path.name, sha256_file_once(path)) for path in sorted(directory.glob("*.*"))]
    root = cache_root(cache_dir)
    folder = root / "tfds" / sha256_text(repr(stamp), 16)
    with exclusive(folder / str(image_size)):  # one process prepares, others running at the same time wait for it
        builder = CaptionedFlowers102(config=str(image_size), data_dir=str(folder))
        builder._extraction_dir = root
        download_and_prepare(builder, directory)
    return builder


@functools.lru_cache(maxsize=4)
def _read(data_dir: str, split: str, image_size: int, cache_dir) -> dict:
    builder = prepared_builder(data_dir, image_size, cache_dir)
    return tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1, shuffle_files=False))


def load_prepared(data_dir, split: str = "train", image_size: int = 64, limit: int | None = None, seed: int = 0,
                  cache_dir=None) -> Examples:
    """``split`` of the prepared ``captioned_flowers102`` as :class:`Examples`: labels ``class``, ``petal`` and
    ``centre`` (indices into ``COLOUR_NAMES``) and the ten captions of each image as its caption group (the
    held-out phrasings follow from the class name and the colours: :func:`gan.data.flower_captions.flower_captions`
    with ``HELDOUT_TEMPLATES``)."""
    from gan.data.captions import pick_captions

    directory = check_data_dir(data_dir)
    data = _read(str(Path(directory).resolve()), split, image_size, None if cache_dir is None else str(cache_dir))
    keep = np.isin(data["id"], subset_ids(data["id"], limit, seed))
    groups = [[caption.decode("utf-8") for caption in row] for row in data["captions"][keep]]
    labels = {"class": data["label"][keep].astype(np.int32), "petal": data["petal_colour"][keep].astype(np.int32),
              "centre": data["centre_colour"][keep].astype(np.int32)}
    images = data["image"][keep]
    for array in (images, *labels.values()):
        array.flags.writeable = False
    group_of_example = np.arange(len(groups), dtype=np.int32)
    return Examples(images=images, captions=pick_captions(groups, group_of_example, seed), labels=labels,
                    class_names=class_names(directory), caption_groups=groups, caption_group=group_of_example,
                    ids=data["id"][keep].astype(np.int64))

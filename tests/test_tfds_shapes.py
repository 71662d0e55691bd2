"""The captioned shapes as a TFDS builder: prepared from the generator, read back as the same examples."""

import numpy as np
import pytest

tfds = pytest.importorskip("tensorflow_datasets")


def test_prepared_dataset_holds_the_generated_examples(tmp_path):
    from gan.data.shapes import ATTRIBUTES, shapes_examples
    from gan.data.tfds_shapes import CaptionedShapes, CaptionedShapesConfig

    config = CaptionedShapesConfig(name="tiny", image_size=32, train_examples=24, test_examples=8)
    builder = CaptionedShapes(config=config, data_dir=str(tmp_path))
    builder.download_and_prepare()
    assert builder.info.splits["train"].num_examples == 24 and builder.info.splits["test"].num_examples == 8
    for split, count in (("train", 24), ("test", 8)):
        expected = shapes_examples(count, split, 32, 0)
        read = list(tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)))
        assert sorted(int(e["id"]) for e in read) == list(range(count))
        for example in read:
            index = int(example["id"])
            np.testing.assert_array_equal(example["image"], expected.images[index])
            assert example["caption"].decode() == expected.captions[index]
            group = expected.caption_groups[int(expected.caption_group[index])]
            assert [c.decode() for c in example["captions"]] == group
            for name in ATTRIBUTES:
                assert example[name] == expected.labels[name][index]
    # tfds.load by name finds the registered builder; here with a built-in config, a few examples read back.
    assert "captioned_shapes" in tfds.list_builders()
    assert [config.name for config in CaptionedShapes.BUILDER_CONFIGS] == ["32", "64"]

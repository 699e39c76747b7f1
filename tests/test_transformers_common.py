"""
transformers' own common model and config tests (`ModelTesterMixin`, `ConfigTester` of the installed version, from
its sdist: see tests/transformers_common.py) run against every D-BETA class with a tiny config.

Each skip below says why the test does not apply to a multimodal ECG model; none stands in for a defect.
"""

import unittest
from typing import ClassVar

import pytest
import torch

from modeling_dbeta import DBetaConfig, DBetaECGModel, DBetaForECGClassification, DBetaForPreTraining, DBetaModel
from tests.tiny_models import tiny_config
from tests.transformers_common import import_common_tests


try:
    modeling_common, configuration_common = import_common_tests()
except OSError as error:
    pytest.skip(
        f"transformers' common tests could not be fetched from its sdist ({error}); run `.ci/run` or any "
        "pip-connected pytest once to cache them.",
        allow_module_level=True,
    )
except ImportError as error:  # the mixins import `parameterized`
    pytest.skip(f"transformers' common tests need {error.name!r}: `pip install -e .[dev]`.", allow_module_level=True)

ModelTesterMixin = modeling_common.ModelTesterMixin
ConfigTester = configuration_common.ConfigTester

# transformers' tests look model classes up in its auto-class name tables (e.g. to skip training a base model or to
# build classification labels); a model inside the library is listed there, as D-BETA's Auto registrations say.
AUTO_NAME_TABLES = {
    "MODEL_MAPPING_NAMES": "DBetaModel",
    "MODEL_FOR_PRETRAINING_MAPPING_NAMES": "DBetaForPreTraining",
    "MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES": "DBetaForECGClassification",
}


@pytest.fixture(autouse=True, scope="module")
def dbeta_in_auto_name_tables():
    tables = [getattr(modeling_common, name) for name in AUTO_NAME_TABLES]
    for table, class_name in zip(tables, AUTO_NAME_TABLES.values(), strict=True):
        table["dbeta"] = class_name
    yield
    for table in tables:
        del table["dbeta"]


NUM_SAMPLES = 128  # 8 ECG tokens of 16 samples: the paper's structure at a size the common tests run quickly


def common_config(**overrides) -> DBetaConfig:
    return tiny_config(num_samples=NUM_SAMPLES, **overrides)


class DBetaModelTester:
    """Tiny inputs for the D-BETA classes; `ecg_only` for the classes that see no text."""

    def __init__(self, parent, ecg_only=False, is_training=True, batch_size=3, text_length=7):
        self.parent = parent
        self.ecg_only = ecg_only
        self.is_training = is_training
        self.batch_size = batch_size
        self.text_length = text_length
        config = self.get_config()
        self.num_ecg_tokens = config.num_ecg_tokens
        self.hidden_size = config.hidden_size
        self.num_hidden_layers = config.num_hidden_layers
        self.num_attention_heads = config.num_attention_heads
        self.vocab_size = config.text_config.vocab_size
        # The ECG encoder's sequence: the class token and the ECG tokens; the text encoder's: the report.
        self.seq_length = self.num_ecg_tokens + 1 if ecg_only else text_length

    def get_config(self) -> DBetaConfig:
        return common_config(num_labels=3)

    def prepare_config_and_inputs_for_common(self):
        config = self.get_config()
        inputs = {"ecg_values": modeling_common.floats_tensor([self.batch_size, config.num_leads, config.num_samples])}
        if not self.ecg_only:
            inputs["input_ids"] = modeling_common.ids_tensor([self.batch_size, self.text_length], self.vocab_size)
            attention_mask = torch.ones(self.batch_size, self.text_length, dtype=torch.long)
            attention_mask[0, -2:] = 0  # one padded report
            inputs["attention_mask"] = attention_mask
            # The pretraining masking is random in eval mode too (as ViT-MAE's): fixed noise makes it reproducible.
            inputs["ecg_mask_noise"] = modeling_common.floats_tensor([self.batch_size, self.num_ecg_tokens])
        return config, inputs


PER_TOWER = (
    "{} of the composite model are tested in the individual tower tests (DBetaECGModelTest; the text encoder's own "
    "transformers tests) and, for the co-attention fusion, in tests/test_model_outputs.py"
)
ECG_ONLY = "The ECG-only classes read a raw signal: they have no token embeddings to get, set, resize or hook"
ECG_ONLY_TESTS = (
    "test_model_get_set_embeddings", "test_resize_tokens_embeddings", "test_resize_embeddings_untied",
    "test_resize_embeddings_untied_no_reinit_on_post_init",
    "test_enable_input_require_grads_with_gradient_checkpointing",
)


class DBetaTesterMixin(ModelTesterMixin):
    """What every D-BETA class shares in the common tests."""

    ecg_only = False
    is_training = True

    def setUp(self):
        self.model_tester = DBetaModelTester(self, ecg_only=self.ecg_only, is_training=self.is_training)

    def _prepare_for_class(self, inputs_dict, model_class, return_labels=False):
        inputs = super()._prepare_for_class(inputs_dict, model_class, return_labels=return_labels)
        if model_class is DBetaForPreTraining and return_labels:
            mlm_labels = torch.full_like(inputs["input_ids"], -100)
            mlm_labels[:, :2] = inputs["input_ids"][:, :2]
            inputs["mlm_labels"] = mlm_labels
            inputs["is_aligned"] = (torch.arange(inputs["input_ids"].shape[0]) % 2 == 0).float()
        return inputs


def skip_tests(namespace: dict, reason: str, *tests: str):
    """Skip these mixin tests, and every case of a parameterized one (`test_x_00_...`), for `reason`."""
    for test in tests:
        cases = [
            name for name in dir(ModelTesterMixin) if name.startswith(f"{test}_") and name[len(test) + 1].isdigit()
        ]
        for name in cases or [test]:
            namespace[name] = unittest.skip(reason)(lambda self: None)


class DBetaModelTest(DBetaTesterMixin, unittest.TestCase):
    all_model_classes = (DBetaModel, DBetaForPreTraining)
    _is_composite = True
    additional_model_inputs: ClassVar[list[str]] = ["input_ids", "ecg_mask_noise"]

    # As for CLIP and SigLIP: the composite output has one set of states per tower, and the towers are tested alone.
    skip_tests(locals(), PER_TOWER.format("Hidden states"), "test_hidden_states_output")
    skip_tests(locals(), PER_TOWER.format("Attentions"), "test_attention_outputs")
    skip_tests(locals(), PER_TOWER.format("Retain_grad"), "test_retain_grad_hidden_states_attentions")
    skip_tests(locals(), PER_TOWER.format("Eager vs SDPA"), "test_eager_matches_sdpa_inference")


class DBetaECGModelTest(DBetaTesterMixin, unittest.TestCase):
    all_model_classes = (DBetaECGModel,)
    ecg_only = True
    is_training = False
    skip_tests(
        locals(),
        "As SigLIP's vision model, the ECG tower alone has no objective to train: DBetaForECGClassificationTest and "
        "DBetaModelTest (pretraining) train it",
        "test_training", "test_training_gradient_checkpointing",
        "test_training_gradient_checkpointing_use_reentrant_false",
        "test_training_gradient_checkpointing_use_reentrant_true",
    )
    skip_tests(locals(), ECG_ONLY, *ECG_ONLY_TESTS)


class DBetaForECGClassificationTest(DBetaTesterMixin, unittest.TestCase):
    all_model_classes = (DBetaForECGClassification,)
    ecg_only = True
    skip_tests(locals(), ECG_ONLY, *ECG_ONLY_TESTS)


class DBetaConfigTest(unittest.TestCase):
    def setUp(self):
        self.model_tester = DBetaModelTester(self)
        self.config_tester = ConfigTester(self, config_class=DBetaConfig, has_text_modality=False)

    def test_config(self):
        self.config_tester.run_common_tests()

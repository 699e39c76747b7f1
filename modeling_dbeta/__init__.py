"""D-BETA for the Hugging Face stack: config, models, feature extractor, processor, Auto-class registration."""

from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModel,
    AutoModelForAudioClassification,
    AutoModelForPreTraining,
    AutoProcessor,
)

from .configuration_dbeta import DBetaConfig
from .ecg_storage import dequantize_ecg, quantize_ecg
from .feature_extraction_dbeta import STANDARD_LEADS, DBetaFeatureExtractor, canonical_lead_name, lead_indices
from .hospital_exports import ExportedECG, read_dicom_ecg, read_ge_xml, read_hospital_ecg
from .modeling_dbeta import (
    DBetaECGModel,
    DBetaForECGClassification,
    DBetaForPreTraining,
    DBetaModel,
    DBetaPreTrainedModel,
    apply_lead_mask,
    lead_mask_from_names,
)
from .pipeline_dbeta import ECGFeatureExtractionPipeline, ZeroShotECGClassificationPipeline, register_pipelines
from .processing_dbeta import DBetaProcessor
from .recording import BadRecord, Recording, prepare_recording
from .text_normalization import join_statements, normalize_report
from .wfdb_reader import read_wfdb


AutoConfig.register("dbeta", DBetaConfig, exist_ok=True)
AutoModel.register(DBetaConfig, DBetaModel, exist_ok=True)
AutoModelForPreTraining.register(DBetaConfig, DBetaForPreTraining, exist_ok=True)
# transformers has no Auto class for time-series classification; ECG classifiers, like wav2vec 2.0's audio ones,
# classify a raw signal, so they are listed with those.
AutoModelForAudioClassification.register(DBetaConfig, DBetaForECGClassification, exist_ok=True)
AutoFeatureExtractor.register(DBetaConfig, DBetaFeatureExtractor, exist_ok=True)
AutoProcessor.register(DBetaConfig, DBetaProcessor, exist_ok=True)

# Saved checkpoints carry our code and an `auto_map`, so `trust_remote_code=True` loads them without this package.
DBetaConfig.register_for_auto_class()
DBetaModel.register_for_auto_class("AutoModel")
DBetaForPreTraining.register_for_auto_class("AutoModelForPreTraining")
DBetaForECGClassification.register_for_auto_class("AutoModelForAudioClassification")
DBetaFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")
DBetaProcessor.register_for_auto_class("AutoProcessor")

# pipeline("zero-shot-ecg-classification") and pipeline("ecg-feature-extraction").
register_pipelines()

__version__ = "0.1.0"

__all__ = [
    "STANDARD_LEADS",
    "BadRecord",
    "DBetaConfig",
    "DBetaECGModel",
    "DBetaFeatureExtractor",
    "DBetaForECGClassification",
    "DBetaForPreTraining",
    "DBetaModel",
    "DBetaPreTrainedModel",
    "DBetaProcessor",
    "ECGFeatureExtractionPipeline",
    "ExportedECG",
    "Recording",
    "ZeroShotECGClassificationPipeline",
    "apply_lead_mask",
    "canonical_lead_name",
    "dequantize_ecg",
    "join_statements",
    "lead_indices",
    "lead_mask_from_names",
    "normalize_report",
    "prepare_recording",
    "quantize_ecg",
    "read_dicom_ecg",
    "read_ge_xml",
    "read_hospital_ecg",
    "read_wfdb",
]

"""Small configs and an offline T5-style tokenizer, so the tests exercise the real code paths in seconds."""

from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from modeling_dbeta import DBetaConfig


SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"
REFERENCE_DIR = SHARED_DIR / "reference" / "upstream_tiny"

WORDS = (  # noqa: SIM905 (a word list reads best as one string)
    "sinus rhythm normal ecg abnormal atrial fibrillation flutter left right bundle branch block first degree av "
    "low qrs voltage t wave inversion st depression elevation ventricular hypertrophy bradycardia tachycardia "
    "premature complexes axis deviation possible inferior anterior lateral infarct age undetermined borderline "
    "with and of in the leads prolonged qt pr interval changes nonspecific repolarization abnormality otherwise"
).split()


def tiny_t5_tokenizer() -> PreTrainedTokenizerFast:
    """
    A word-level tokenizer with T5's conventions: <pad>=0, </s>=1, <unk>=2, an <extra_id_0> sentinel, </s> appended.
    """
    specials = ["<pad>", "</s>", "<unk>", "<extra_id_0>"]
    vocab = {token: i for i, token in enumerate(specials + list(dict.fromkeys(WORDS + list(".,;:-()0123456789"))))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    backend.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
        additional_special_tokens=["<extra_id_0>"], model_max_length=64,
    )


TINY_T5 = {
    "model_type": "t5", "vocab_size": 128, "d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 2, "num_heads": 4,
    "feed_forward_proj": "gated-gelu", "is_encoder_decoder": False, "use_cache": False,
}


def tiny_config(**overrides) -> DBetaConfig:
    """A D-BETA a few hundred thousand parameters large, with the paper's structure (5000 samples, 312 tokens)."""
    values = {
        "text_config": dict(TINY_T5),
        "conv_layers": [[16, 2, 2]] * 4,
        "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
        "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4,
        "fusion_hidden_size": 32, "fusion_num_hidden_layers": 2, "fusion_num_attention_heads": 4,
        "fusion_intermediate_size": 64,
        "mem_decoder_hidden_size": 16, "mem_decoder_num_hidden_layers": 1, "mem_decoder_num_attention_heads": 2,
        "mem_decoder_intermediate_size": 32, "mem_decoder_fusion_layer": 1,
    }
    values.update(overrides)
    return DBetaConfig(**values)

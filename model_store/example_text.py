"""Tiny Hugging Face text models made here, from configs with random weights and tokenizers
trained on a small generated corpus: nothing is downloaded. `slipway example --text`, the tests
and bench/text.py use them; they are saved with `save_pretrained` as a user's would be.

- `bert_classifier`: BERT, WordPiece tokenizer, sequence classification (3 labels);
- `roberta_classifier`: RoBERTa, byte-level BPE tokenizer, sequence classification;
- `sentence_embedding`: a sentence-transformers directory (BERT, mean pooling, Normalize);
- `minilm`: a MiniLM-sized encoder (6 layers, hidden 384) for the benchmark.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model_store.backends import Store

LABELS = ("negative", "neutral", "positive")
_WORDS = (  # noqa: SIM905 (one word list: easier to read and edit as text)
    "the a an this that product service order delivery support refund price quality screen "
    "battery phone laptop shoe jacket coffee hotel room staff food ticket app update account "
    "love like hate great good bad awful terrible excellent fine okay slow fast broken works "
    "arrived late early never always again really very quite not too cheap expensive worth "
    "return replace recommend would could should will did was is are be been it I we you they "
    "café naïve straße école 2024 42 7 % $ !"
).split()
SPECIALS_BERT = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
SPECIALS_ROBERTA = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def corpus(size: int = 400, seed: int = 0) -> list[str]:
    """Generated sentences of 3 to 24 words (and their punctuation), reproducible by seed."""
    rng = random.Random(seed)
    out = []
    for _ in range(size):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(3, 24))]
        out.append(" ".join(words).capitalize() + rng.choice((".", "!", "?", "", ",")))
    return out


def sample_texts() -> list[str]:
    """Texts parity runs on: short, long (past max_length), accented, an empty one."""
    return [
        "I love it",
        "The delivery was late and the product arrived broken, never again!",
        "Great coffee, great staff. Would recommend.",
        "Café naïve straße — école 2024",
        "",
        "okay",
        " ".join(corpus(8, seed=1)),  # longer than the models read: truncated
        "UPPER CASE TEXT",
    ]


def text_of_tokens(tokenizer: Any, tokens: int, seed: int = 0) -> str:
    """A text that `tokenizer` (a tokenizers.Tokenizer) encodes to exactly `tokens` tokens,
    special tokens included (for the benchmark's 32 and 128)."""
    rng = random.Random(seed)
    words: list[str] = []
    while len(tokenizer.encode(" ".join(words)).ids) < tokens:
        words.append(rng.choice(_WORDS[:60]))
    while len(tokenizer.encode(" ".join(words)).ids) > tokens:
        words.pop()
    text = " ".join(words)
    while len(tokenizer.encode(text).ids) < tokens:  # one-token words fill the rest
        text += " a"
    return text


def _wordpiece(texts: list[str], vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import WordPieceTrainer

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(
        texts, WordPieceTrainer(vocab_size=vocab_size, special_tokens=list(SPECIALS_BERT))
    )
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    tok.decoder = decoders.WordPiece()
    return tok


def _byte_level_bpe(texts: list[str], vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from tokenizers.trainers import BpeTrainer

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(
        texts,
        BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=list(SPECIALS_ROBERTA),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    sep, cls = tok.token_to_id("</s>"), tok.token_to_id("<s>")
    assert sep is not None and cls is not None  # special tokens are in every trained vocabulary
    tok.post_processor = processors.RobertaProcessing(("</s>", sep), ("<s>", cls))
    tok.decoder = decoders.ByteLevel()
    return tok


def _fast(tok: Any, max_length: int, roberta: bool) -> Any:
    from transformers import PreTrainedTokenizerFast

    if roberta:
        names = dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>", sep_token="</s>")
        names |= dict(cls_token="<s>", pad_token="<pad>", mask_token="<mask>")
    else:
        names = dict(unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]")
        names |= dict(sep_token="[SEP]", mask_token="[MASK]")
    made: Any = PreTrainedTokenizerFast
    return made(tokenizer_object=tok, model_max_length=max_length, **names)


def _save(model: Any, tokenizer: Any, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _seeded(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def bert_classifier(out: Path, *, seed: int = 0, max_length: int = 64) -> Path:
    from transformers import BertConfig, BertForSequenceClassification

    tok = _wordpiece(corpus(seed=seed), vocab_size=300)
    config = BertConfig(  # type: ignore[call-arg]
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_length,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={v: k for k, v in enumerate(LABELS)},
    )
    _seeded(seed)
    model = BertForSequenceClassification(config).eval()  # type: ignore[no-untyped-call]
    return _save(model, _fast(tok, max_length, roberta=False), out)


def roberta_classifier(out: Path, *, seed: int = 0, max_length: int = 64) -> Path:
    from transformers import RobertaConfig, RobertaForSequenceClassification

    tok = _byte_level_bpe(corpus(seed=seed), vocab_size=400)
    config = RobertaConfig(  # type: ignore[call-arg]
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_length + 2,  # RoBERTa's positions start after padding
        pad_token_id=tok.token_to_id("<pad>"),
        bos_token_id=tok.token_to_id("<s>"),
        eos_token_id=tok.token_to_id("</s>"),
        type_vocab_size=1,
        num_labels=2,
        id2label={0: "NEG", 1: "POS"},
        label2id={"NEG": 0, "POS": 1},
    )
    _seeded(seed)
    model = RobertaForSequenceClassification(config).eval()  # type: ignore[no-untyped-call]
    return _save(model, _fast(tok, max_length, roberta=True), out)


def _encoder(out: Path, *, seed: int, layers: int, hidden: int, heads: int, vocab: int) -> Path:
    from transformers import BertConfig, BertModel

    max_length = 512 if hidden >= 384 else 64
    tok = _wordpiece(corpus(seed=seed), vocab_size=vocab)
    config = BertConfig(
        vocab_size=max(tok.get_vocab_size(), 30522 if hidden >= 384 else 0),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=4 * hidden,
        max_position_embeddings=max_length,
    )
    _seeded(seed)
    model = BertModel(config).eval()  # type: ignore[no-untyped-call]
    return _save(model, _fast(tok, max_length, roberta=False), out)


def sentence_embedding(
    out: Path, *, seed: int = 0, layers: int = 2, hidden: int = 32, heads: int = 2
) -> Path:
    """A sentence-transformers directory: the encoder, mean pooling, Normalize."""
    from sentence_transformers import SentenceTransformer, models  # type: ignore[attr-defined]

    base = _encoder(out.with_name(out.name + "-encoder"), seed=seed, layers=layers,
                    hidden=hidden, heads=heads, vocab=300)  # fmt: skip
    transformer = models.Transformer(str(base))
    pooling = models.Pooling(transformer.get_embedding_dimension(), "mean")
    SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu").save(
        str(out)
    )
    return out


def minilm(out: Path, *, seed: int = 0) -> Path:
    """MiniLM's size (6 layers, hidden 384, 12 heads, 30522 embeddings), random weights, as a
    sentence-transformers directory (all-MiniLM-L6-v2's shape: mean pooling, Normalize)."""
    return sentence_embedding(out, seed=seed, layers=6, hidden=384, heads=12)


def build_and_register(
    store: Store,
    *,
    name: str = "text",
    seed: int = 0,
    workdir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Any]:
    """Build the tiny BERT classifier and sentence-embedding directory, register both
    (NAME-classifier, NAME-embedding) with parity on `sample_texts`; the Registered of each."""
    import tempfile

    from model_store.api import register
    from model_store.convert.hf import offline

    say = progress or (lambda _message: None)
    done = []
    with offline(), tempfile.TemporaryDirectory(prefix="slipway-text-") as tmp:
        root = workdir or Path(tmp)
        for suffix, build, what in (
            ("classifier", bert_classifier, "BERT classifier (WordPiece)"),
            ("embedding", sentence_embedding, "sentence-transformers embedding model"),
        ):
            say(f"building a tiny {what}, seed {seed}")
            path = build(root / f"{name}-{suffix}", seed=seed)
            done.append(
                register(
                    path,
                    name=f"{name}-{suffix}",
                    sample=sample_texts(),
                    store=store,
                    description=f"tiny {what}: random weights, seed {seed} (slipway example --text)",
                    progress=say,
                )
            )
    return done

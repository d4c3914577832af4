"""Independent reference of BERT's published tokenization algorithm (Devlin et al.,
google-research/bert tokenization.py: BasicTokenizer + WordpieceTokenizer), written from
its description with Python's own unicodedata, for the WordPiece parity test.

stdin: {"vocab": [...], "cases": [{"text": str, "lowercase": bool}, ...]}
stdout: [[token, ...], ...] one list per case. Special tokens ([CLS] [SEP] [MASK] [PAD]
[UNK]) are split off the raw text first, as Hugging Face does with added tokens.
"""
import json
import re
import sys
import unicodedata

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def is_whitespace(c):
    return c in " \t\n\r" or unicodedata.category(c) == "Zs"


def is_control(c):
    if c in "\t\n\r":
        return False
    return unicodedata.category(c).startswith("C")


def is_punctuation(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


CJK = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
       (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


def basic(text, lowercase):
    chars = []
    for c in text:
        if ord(c) in (0, 0xFFFD) or is_control(c):
            continue
        if is_whitespace(c):
            chars.append(" ")
        elif any(lo <= ord(c) <= hi for lo, hi in CJK):
            chars.append(" " + c + " ")
        else:
            chars.append(c)
    out = []
    for word in "".join(chars).split():
        if lowercase:
            word = unicodedata.normalize("NFD", word.lower())
            word = "".join(c for c in word if unicodedata.category(c) != "Mn")
        piece = ""
        for c in word:
            if is_punctuation(c):
                if piece:
                    out.append(piece)
                out.append(c)
                piece = ""
            else:
                piece += c
        if piece:
            out.append(piece)
    return out


def wordpiece(word, vocab):
    if len(word) > 100:
        return ["[UNK]"]
    pieces, start = [], 0
    while start < len(word):
        for end in range(len(word), start, -1):
            sub = ("##" if start else "") + word[start:end]
            if sub in vocab:
                pieces.append(sub)
                start = end
                break
        else:
            return ["[UNK]"]
    return pieces


def tokenize(text, lowercase, vocab):
    specials = [s for s in SPECIALS if s in vocab]
    parts = re.split("(" + "|".join(re.escape(s) for s in specials) + ")", text) if specials else [text]
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(part)
        else:
            for w in basic(part, lowercase):
                out.extend(wordpiece(w, vocab))
    return out


if __name__ == "__main__" and not sys.argv[1:]:
    request = json.load(sys.stdin)
    vocab = set(request["vocab"])
    json.dump([tokenize(c["text"], c["lowercase"], vocab) for c in request["cases"]], sys.stdout, ensure_ascii=False)


def fixture():
    """The parity corpus and a vocabulary that exercises whole words, ## pieces and [UNK]."""
    texts = [
        "Paris is the capital of [MASK].",
        "[CLS] The capital of France is [MASK]. [SEP]",
        "The Eiffel Tower, in PARIS, was built in 1889!",
        "naïve café résumé Ångström Łódź São Paulo straße Øresund façade",
        "NAÏVE Café RÉSUMÉ",
        "unaffable unbelievably running runners rerunning",
        "$100 + 5% = <tag> ^caret^ `tick` |pipe| ~tilde~ @home #hash & * _under_",
        "It's John's \"quoted\" (parenthesised) [bracketed] {braced}; colon: semi-colon...",
        "— en–dash «guillemets» ¿qué? ¡sí! … • · ‰ § ¶",
        "日本の首都は東京です。中华人民共和国北京市 한국어 서울",
        "Mixed中文English混合",
        "numbers 3.14159 1,000,000 2nd 42nd 1999-2001",
        "tabs\tand\nnewlines\r\nand  multiple   spaces\u00a0nbsp\u3000ideographic\u2003em",
        "control\x00chars\x07here\ufeffbom\u200bzwsp\ufffdreplacement",
        "a" * 101,
        "x" * 100,
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "ΣΊΣΥΦΟΣ Ἀθῆναι Москва Привет, мир!",
        "emoji 😀 snowman ☃ mathematical ∑∫√ arrows →⇒",
        "[MASK][MASK] x[MASK]y [mask] [UNK] [PAD]",
        "",
        "   ",
        "İstanbul ǅemal ﬁne Ｆｕｌｌｗｉｄｔｈ",
    ]
    words = ("the of and is was in a an it to for capital Paris paris France france Eiffel eiffel Tower tower built "
             "naive cafe resume Angstrom Lodz Sao Paulo sao paulo strasse Oresund facade John quoted colon semi "
             "un ##aff ##able ##believ ##ably run ##ning ##ners re ##run ##s ##n ##ing 1 ##8 ##9 ##0 ##1 ##2 1999 "
             "2001 100 5 3 14 ##15 ##9 000 2 ##nd 42 tag caret tick pipe tilde home hash under super ##cal ##i "
             "##fr ##ag ##il ##istic ##ex ##pi ##ali ##do ##cious anti ##dis ##establish ##ment ##arian ##ism "
             "mixed ##english english Mixed English tabs and newlines multiple spaces nbsp ideographic em control "
             "chars here bom replacement numbers emoji snowman mathematical arrows x y mask Москва При ##вет мир "
             "ist ##anbul fine").split()
    chars = set()
    for text in texts:
        for lowercase in (False, True):
            for w in basic(text, lowercase):
                chars.update(w)
    # Left out on purpose, so that words containing them become [UNK].
    chars -= set("☃√ñ😀")
    vocab = list(SPECIALS)
    for token in words + sorted(chars) + ["##" + c for c in sorted(chars) if c not in "qz"]:
        if token not in vocab:
            vocab.append(token)
    cases = [{"text": t, "lowercase": lc} for t in texts for lc in (False, True)]
    return {"vocab": vocab, "cases": cases, "expected": [tokenize(c["text"], c["lowercase"], set(vocab)) for c in cases]}


if __name__ == "__main__" and sys.argv[1:] == ["--fixture"]:
    json.dump(fixture(), sys.stdout, ensure_ascii=False, indent=0)

"""Command line over published models: ``python -m include.cli COMMAND ...`` from the project root.

  versions                     published versions: data time, corpus, vocabulary, epochs, evaluation
                               scores, gate decision; * marks LATEST
  vector WORD                  print a word's vector
  neighbours WORD [-k K]       nearest words with cosines
  similarity WORD WORD         cosine similarity
  tokens TEXT                  TEXT as the model's tokens (simple_preprocess, then the version's phrases)
Options: --version NAME (default: LATEST), --json for machine-readable output.
Exit codes: 0 ok, 1 unknown word, 2 no such model or bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys

from include.errors import PipelineInputError
from include.serving.model_store import ModelStore, UnknownWordError, versions_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.cli", description="Query published word2vec models.")
    parser.add_argument("--version", default="latest", help="model version (default: the one LATEST names)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("versions")
    vector = commands.add_parser("vector")
    vector.add_argument("word")
    neighbours = commands.add_parser("neighbours")
    neighbours.add_argument("word")
    neighbours.add_argument("-k", type=int, default=10)
    similarity = commands.add_parser("similarity")
    similarity.add_argument("first")
    similarity.add_argument("second")
    tokens = commands.add_parser("tokens")
    tokens.add_argument("text", nargs="+", help="raw text (several arguments are joined by spaces)")
    args = parser.parse_args(argv)

    store = ModelStore()
    try:
        if args.command == "versions":
            result = store.describe_versions()
            text = versions_table(result)
        else:
            model = store.load(args.version)
            if args.command == "vector":
                result = {"version": model.version, "word": args.word, "vector": model.vector(args.word).tolist()}
                text = " ".join(f"{x:.6g}" for x in result["vector"])
            elif args.command == "tokens":
                words = model.tokens(" ".join(args.text))
                result = {"version": model.version, "tokens": words, "in_vocab": [word in model for word in words]}
                text = " ".join(words)
            elif args.command == "neighbours":
                pairs = model.neighbours(args.word, args.k)
                result = {"version": model.version, "word": args.word, "neighbours": pairs}
                text = "\n".join(f"{word}\t{cosine:.4f}" for word, cosine in pairs)
            else:
                value = model.similarity(args.first, args.second)
                result = {"version": model.version, "first": args.first, "second": args.second, "similarity": value}
                text = f"{value:.6f}"
    except UnknownWordError as error:
        print(error.args[0], file=sys.stderr)
        return 1
    except PipelineInputError as error:
        print(error, file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False) if args.json else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

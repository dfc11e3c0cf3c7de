"""``python -m gen_models.train dcgan|dcgan-digits|autoencoder|face-swap … --out DIR [--resume]``."""

from __future__ import annotations

import argparse
import sys

from gen_models.core.errors import GenModelsError
from gen_models.train import autoencoders, digits_gan, face_swap
from gen_models.train.dcgan_faces import TrainConfig, train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gen_models.train", description="Train the demos' models.")
    sub = parser.add_subparsers(dest="model", required=True)
    dcgan = sub.add_parser("dcgan", help="DCGAN 64×64 on a folder of face images (CelebA-style crops)")
    dcgan.add_argument("--data", required=True, help="folder of images (searched recursively)")
    dcgan.add_argument("--out", default="runs/dcgan", help="checkpoints, loss log, sample grids, final weights")
    dcgan.add_argument("--epochs", type=int, default=5)
    dcgan.add_argument("--batch", type=int, default=128)
    dcgan.add_argument("--lr", type=float, default=2e-4)
    dcgan.add_argument("--hidden", type=int, default=64, help="width (64 as in the paper)")
    dcgan.add_argument("--seed", type=int, default=0)
    dcgan.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    digits_gan.add_parser(sub)
    autoencoders.add_parser(sub)
    face_swap.add_parser(sub)
    args = parser.parse_args(argv)
    if args.model == "dcgan-digits":
        return digits_gan.run_cli(args)
    if args.model == "autoencoder":
        return autoencoders.run_cli(args)
    if args.model == "face-swap":
        return face_swap.run_cli(args)
    config = TrainConfig(args.data, args.out, args.epochs, args.batch, args.lr, args.hidden, args.seed, args.resume)
    try:
        result = train(config, log=print)
    except GenModelsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"weights: {result.weights} (sha256 {result.sha256}, {result.size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

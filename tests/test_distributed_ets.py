"""
Across processes the ETS loss sees every rank's texts: two gloo ranks reproduce the one-process loss and gradients.
"""


import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from modeling_dbeta import DBetaForPreTraining
from modeling_dbeta.losses import ecg_text_sigmoid_loss
from tests.tiny_models import tiny_config


WORLD_SIZE = 2
EQUAL, UNEQUAL = (3, 3), (3, 2)  # the second as in the last batch of an epoch
FORMS = ("dbeta", "siglip")


def make_features(sizes, dim=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    total = sum(sizes)
    aligned = (torch.rand(total, generator=generator) > 0.4).float()
    return torch.randn(total, dim, generator=generator), torch.randn(total, dim, generator=generator), aligned


def rank_slice(sizes, rank):
    start = sum(sizes[:rank])
    return slice(start, start + sizes[rank])


def ets(ecg, text, aligned, form):
    scale, bias = (torch.tensor(2.0), torch.tensor(-1.0)) if form == "siglip" else (None, None)
    return ecg_text_sigmoid_loss(ecg, text, aligned, scale, bias, sum_over_texts=form == "siglip")


def worker(rank, folder):
    dist.init_process_group("gloo", init_method=f"file://{folder}/init", rank=rank, world_size=WORLD_SIZE)
    try:
        results = {}
        for sizes in (EQUAL, UNEQUAL):
            ecg, text, aligned = make_features(sizes)
            part = rank_slice(sizes, rank)
            for form in FORMS:
                local_ecg, local_text = ecg[part].clone().requires_grad_(), text[part].clone().requires_grad_()
                loss = ets(local_ecg, local_text, aligned[part], form)
                (loss / WORLD_SIZE).backward()  # DDP averages gradients over ranks: differentiate the rank average
                results[sizes, form] = (loss.detach(), local_ecg.grad, local_text.grad)

        model = DBetaForPreTraining(tiny_config()).eval()
        model.load_state_dict(torch.load(f"{folder}/model.pt", weights_only=True))
        batch = torch.load(f"{folder}/batch.pt", weights_only=True)
        with torch.no_grad():
            results["model"] = model(**{key: value[rank_slice(EQUAL, rank)] for key, value in batch.items()}).ets_loss
        torch.save(results, f"{folder}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp")
    torch.manual_seed(0)
    model = DBetaForPreTraining(tiny_config()).eval()
    num_ecg_tokens = model.config.num_ecg_tokens
    generator = torch.Generator().manual_seed(1)
    batch = {
        "ecg_values": torch.randn(6, 12, 5000, generator=generator),
        "input_ids": torch.randint(4, 60, (6, 7), generator=generator),
        "is_aligned": torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0, 0.0]),
        "ecg_mask_noise": torch.rand(6, num_ecg_tokens, generator=generator),
    }
    torch.save(model.state_dict(), folder / "model.pt")
    torch.save(batch, folder / "batch.pt")
    mp.spawn(worker, args=(str(folder),), nprocs=WORLD_SIZE, join=True)
    ranks = [torch.load(folder / f"rank{rank}.pt", weights_only=True) for rank in range(WORLD_SIZE)]
    with torch.no_grad():
        expected = model(**batch).ets_loss
    return ranks, expected


@pytest.mark.parametrize("form", FORMS)
def test_two_ranks_equal_one_process_on_the_concatenated_batch(two_ranks, form):
    ranks, _ = two_ranks
    ecg, text, aligned = make_features(EQUAL)
    ecg.requires_grad_()
    text.requires_grad_()
    loss = ets(ecg, text, aligned, form)
    loss.backward()
    per_rank = [r[EQUAL, form] for r in ranks]
    torch.testing.assert_close(sum(r[0] for r in per_rank) / WORLD_SIZE, loss.detach())
    torch.testing.assert_close(torch.cat([r[1] for r in per_rank]), ecg.grad)
    # all_gather's backward hands each rank the gradient of every rank's loss w.r.t. its own texts.
    torch.testing.assert_close(torch.cat([r[2] for r in per_rank]), text.grad)


def test_model_ets_loss_over_two_ranks(two_ranks):
    ranks, expected = two_ranks
    torch.testing.assert_close(sum(r["model"] for r in ranks) / WORLD_SIZE, expected)


def test_unequal_rank_batches_are_gathered_exactly(two_ranks):
    ranks, _ = two_ranks
    ecg, text, aligned = make_features(UNEQUAL)
    loss = ets(ecg, text, aligned, "dbeta")
    # Each rank averages over its own rows: weighting by rows recovers the mean over all N x N pairs.
    weighted = sum(r[UNEQUAL, "dbeta"][0] * n for r, n in zip(ranks, UNEQUAL, strict=True)) / sum(UNEQUAL)
    torch.testing.assert_close(weighted, loss)

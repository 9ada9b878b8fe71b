"""Learning-rate schedules: each one's sequence of rates over 200 steps, with two parameter
groups, equal to PyTorch's to the last bit; state_dict and resuming; the checks."""

import math
import warnings

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor, optim
from tinygrad_edu.optim import lr_scheduler

STEPS = 200


def build(lib, optimizer_name="SGD"):
    """An optimizer of `lib` (tinygrad_edu or torch) with two groups: lr 0.1 and 0.01."""
    a, b = lib.zeros(2, requires_grad=True), lib.zeros(3, requires_grad=True)
    groups = [{"params": [a]}, {"params": [b], "lr": 0.01}]
    if optimizer_name == "SGD":
        return lib.optim.SGD(groups, lr=0.1, momentum=0.9)
    return lib.optim.Adam(groups, lr=0.1)


SCHEDULES = {
    "LambdaLR": lambda L, o: L.LambdaLR(o, lambda e: 0.95 ** e),
    "LambdaLR-two": lambda L, o: L.LambdaLR(o, [lambda e: 1 / (e + 1), lambda e: min(1, e / 9)]),
    "StepLR": lambda L, o: L.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda L, o: L.MultiStepLR(o, [10, 50, 50, 120], gamma=0.3),
    "ExponentialLR": lambda L, o: L.ExponentialLR(o, gamma=0.98),
    "CosineAnnealingLR": lambda L, o: L.CosineAnnealingLR(o, T_max=30, eta_min=0.001),
    "LinearLR": lambda L, o: L.LinearLR(o, start_factor=0.1, total_iters=20),
    "LinearLR-down": lambda L, o: L.LinearLR(o, start_factor=1.0, end_factor=0.05,
                                             total_iters=150),
    "OneCycleLR": lambda L, o: L.OneCycleLR(o, max_lr=[1.0, 0.1], total_steps=STEPS),
    "OneCycleLR-linear-three-phase": lambda L, o: L.OneCycleLR(
        o, max_lr=0.5, epochs=10, steps_per_epoch=20, anneal_strategy="linear",
        three_phase=True, pct_start=0.25),
    "SequentialLR-warmup-cosine": lambda L, o: L.SequentialLR(
        o, [L.LinearLR(o, start_factor=0.1, total_iters=10), L.CosineAnnealingLR(o, T_max=190)],
        milestones=[10]),
    "SequentialLR-three": lambda L, o: L.SequentialLR(
        o, [L.ExponentialLR(o, 0.9), L.StepLR(o, 5), L.MultiStepLR(o, [3, 30])],
        milestones=[50, 120]),
}


def metric(step):
    """A validation loss that falls, stalls, wobbles: ReduceLROnPlateau's input."""
    return 1.0 / (1 + min(step, 40)) + 0.01 * math.sin(step * 1.7)


PLATEAUS = {
    "min-rel": {"patience": 3, "cooldown": 2, "factor": 0.5, "min_lr": [0.001, 0.0001]},
    "max-abs": {"mode": "max", "threshold_mode": "abs", "threshold": 0.001, "patience": 5,
                "factor": 0.7, "min_lr": 0.0005},
}


def sequence(lib, make, optimizer_name="SGD", plateau=None):
    optimizer = build(lib, optimizer_name)
    schedule = (lib.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **plateau) if plateau
                else make(lib.optim.lr_scheduler, optimizer))
    seen = [[g["lr"] for g in optimizer.param_groups]]
    for step in range(STEPS):
        optimizer.step()  # (no gradients: only the order of calls matters)
        schedule.step(metric(step)) if plateau else schedule.step()
        rates = [g["lr"] for g in optimizer.param_groups]
        momenta = [g.get("momentum", g.get("betas", (None,))[0])
                   for g in optimizer.param_groups]
        assert list(schedule.get_last_lr()) == rates
        seen.append(rates + momenta)
    return seen


@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam"])
@pytest.mark.parametrize("name", SCHEDULES)
def test_each_schedule_gives_pytorchs_rates_to_the_last_bit(name, optimizer_name, torch):
    ours = sequence(tg, SCHEDULES[name], optimizer_name)
    theirs = sequence(torch, SCHEDULES[name], optimizer_name)
    assert ours == theirs
    assert len({tuple(r) for r in ours}) > 3  # the rates do change


@pytest.mark.parametrize("plateau", PLATEAUS.values(), ids=PLATEAUS.keys())
def test_reduce_on_plateau_gives_pytorchs_rates(plateau, torch):
    ours = sequence(tg, None, plateau=plateau)
    assert ours == sequence(torch, None, plateau=plateau)
    assert len({tuple(r) for r in ours}) > 2


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "OneCycleLR",
                                  "SequentialLR-warmup-cosine", "LambdaLR", "MultiStepLR"])
def test_state_dict_has_pytorchs_keys(name, torch):
    ours = SCHEDULES[name](lr_scheduler, build(tg)).state_dict()
    theirs = SCHEDULES[name](torch.optim.lr_scheduler, build(torch)).state_dict()
    their_keys = set(theirs) - lr_scheduler.IGNORED_KEYS
    assert set(ours) == their_keys
    if name == "SequentialLR-warmup-cosine":
        for mine, their in zip(ours["_schedulers"], theirs["_schedulers"], strict=True):
            assert set(mine) == set(their) - lr_scheduler.IGNORED_KEYS
            assert mine["last_epoch"] == their["last_epoch"]


@pytest.mark.parametrize("name", SCHEDULES)
def test_resuming_from_state_dicts_continues_the_same_sequence(name):
    def fresh():
        optimizer = build(tg)
        return optimizer, SCHEDULES[name](lr_scheduler, optimizer)

    optimizer, schedule = fresh()
    straight = []
    for _ in range(STEPS):
        optimizer.step()
        schedule.step()
        straight.append(schedule.get_last_lr())
    optimizer, schedule = fresh()
    for _ in range(STEPS // 2):
        optimizer.step()
        schedule.step()
    states = optimizer.state_dict(), schedule.state_dict()
    optimizer, schedule = fresh()
    optimizer.load_state_dict(states[0])
    schedule.load_state_dict(states[1])
    resumed = straight[:STEPS // 2]
    for _ in range(STEPS // 2):
        optimizer.step()
        schedule.step()
        resumed.append(schedule.get_last_lr())
    assert resumed == straight


def test_a_scheduler_stepped_before_the_optimizer_warns_as_pytorch():
    optimizer = build(tg)
    schedule = lr_scheduler.StepLR(optimizer, 2)
    with pytest.warns(UserWarning, match=r"before `optimizer.step\(\)`"):
        schedule.step()
    optimizer = build(tg)
    schedule = lr_scheduler.StepLR(optimizer, 2)
    optimizer.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        schedule.step()


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda o: lr_scheduler.StepLR("sgd", 3), TypeError, "str is not an Optimizer"),
    (lambda o: lr_scheduler.StepLR(o, 0), ValueError, "step_size must be a positive integer"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=2.5), ValueError, "T_max must be"),
    (lambda o: lr_scheduler.LambdaLR(o, [lambda e: 1]), ValueError, "expected 2 lr_lambdas"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0), ValueError, "start_factor"),
    (lambda o: lr_scheduler.OneCycleLR(o, 1.0), ValueError, "total_steps, or epochs"),
    (lambda o: lr_scheduler.OneCycleLR(o, [1.0], total_steps=5), ValueError,
     "max_lr has 1 values, the optimizer 2"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(o, 2)], [3]), ValueError,
     "need 0 milestones"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.ReduceLROnPlateau(o)], []),
     ValueError, "ReduceLROnPlateau"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(build(tg), 2)], []),
     ValueError, "does not belong to this optimizer"),
    (lambda o: lr_scheduler.StepLR(o, 2, last_epoch=5), KeyError, "initial_lr"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="lowest"), ValueError, "mode must be"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.5), ValueError, "factor must be"),
    (lambda o: lr_scheduler.StepLR(o, 2).step(3), TypeError, "step(epoch) is deprecated"),
    (lambda o: lr_scheduler.StepLR(o, 2).load_state_dict(
        lr_scheduler.CosineAnnealingLR(build(tg), 3).state_dict()), ValueError,
     r"missing keys \['gamma', 'step_size'\], unexpected keys \['T_max', 'eta_min'\]"),
])
def test_bad_arguments_are_refused(make, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")
                       if "step(" in message else message):
        make(build(tg))


def test_one_cycle_refuses_a_step_past_its_total():
    optimizer = build(tg)
    schedule = lr_scheduler.OneCycleLR(optimizer, 1.0, total_steps=3)
    for _ in range(3):
        optimizer.step()
        schedule.step()
    with pytest.raises(ValueError, match="stepped 4 times, but total_steps is 3"):
        schedule.step()


def test_inside_jit_a_schedule_step_is_replayed_and_plateau_is_refused():
    def run(use_jit):
        w = Tensor(np.ones(3), requires_grad=True)
        optimizer = optim.SGD([w], lr=0.1)
        schedule = lr_scheduler.SequentialLR(optimizer, [  # (its inner steps: not noted twice)
            lr_scheduler.LinearLR(optimizer, total_iters=4),
            lr_scheduler.ExponentialLR(optimizer, gamma=0.9)], milestones=[5])

        def step(x):
            loss = (w * x).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()  # inside the step: every replay steps the schedule again
            return loss

        run_step = tg.jit(step) if use_jit else step
        for _ in range(20):
            run_step(Tensor(np.arange(3.0)))
        return w.data.copy(), schedule.get_last_lr()

    (eager, eager_rates), (replayed, replayed_rates) = run(False), run(True)
    assert np.array_equal(eager, replayed) and eager_rates == replayed_rates

    w = Tensor(np.ones(3), requires_grad=True)
    optimizer = optim.SGD([w], lr=0.1)
    plateau = lr_scheduler.ReduceLROnPlateau(optimizer)

    @tg.jit
    def step(x):
        loss = (w * x).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        plateau.step(loss)
        return loss

    with pytest.raises(RuntimeError, match="call scheduler.step"):
        step(Tensor(np.arange(3.0)))

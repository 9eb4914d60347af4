"""PDE problems, physics-informed objectives, the PDE task and `ttzo train <pde>`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ttzo.cli import main
from ttzo.model.mlp import TTMLP
from ttzo.pinn.network import PinnNetwork
from ttzo.pinn.objective import AutodiffPinnObjective, BoundaryBatch, SteinPinnObjective
from ttzo.pinn.problem import Box, PDEProblem
from ttzo.pinn.problems import get_problem
from ttzo.pinn.stein import monte_carlo_stencil, sparse_grid_stencil
from ttzo.spec.model import ModelSpec
from ttzo.tasks.pde import PDETask, PinnSettings


def small_net(problem, hidden=(4, 4), rank=2, seed=0):
    """A TT network ``D -> 16 -> 16 -> 1`` with sine units for ``problem``."""
    spec = ModelSpec.from_dict({"name": "t", "layers": [
        {"in_features": problem.dim, "out_features": 16, "activation": "sine"},
        {"in_modes": list(hidden), "out_modes": list(hidden), "rank": rank,
         "activation": "sine"},
        {"in_features": 16, "out_features": 1, "activation": "none"},
    ]})
    model = TTMLP(spec, dense_products=True)
    return PinnNetwork(problem, model), model.init_params(np.random.default_rng(seed))


# The HJB solution is linear: what remains is rounding, amplified by the Laplacian weights
# (|z|^2 - D) / s^2 of u ~ 10 (sum 1.6e6 over the 925 nodes in 21 dimensions).
@pytest.mark.parametrize("name, stencil, tol", [
    ("hjb20", lambda p: sparse_grid_stencil(p.dim, p.sigma, 3, p.space), 1e-6),
    # Monte Carlo is exact on nothing: the sample second moments only approach the identity
    ("hjb5", lambda p: monte_carlo_stencil(p.dim, p.sigma, 20000, np.random.default_rng(0),
                                           p.space), 0.1),
    # sin is smoothed by exp(-pi^2 s^2 / 2) per axis: the residual of the smoothed solution
    ("poisson2d", lambda p: sparse_grid_stencil(p.dim, p.sigma, 3, p.space),
     2 * np.pi**2 * (1 - np.exp(-np.pi**2 * 0.01**2)) + 1e-6),
    # exp and sin are smoothed exactly in the PDE, but the rule leaves an O(s^2) remainder
    ("heat10", lambda p: sparse_grid_stencil(p.dim, p.sigma, 3, p.space), 1e-2),
])
def test_residual_vanishes_on_the_exact_solution(name, stencil, tol, rng):
    problem = get_problem(name)
    x = problem.domain.sample(rng, 8)
    fields = stencil(problem).estimate(problem.exact, x)
    assert np.abs(problem.residual(fields)).max() <= tol
    # and a wrong solution does not satisfy it
    wrong = stencil(problem).estimate(lambda p: problem.exact(p) + 0.3 * p[:, 0] ** 2, x)
    assert np.abs(problem.residual(wrong)).max() > 0.1


@pytest.mark.parametrize("first", [
    {"in_features": 3, "out_features": 16, "activation": "sine"},
    {"in_features": 3, "out_features": 16, "activation": "tanh", "bias": False},
    {"in_modes": [1, 3], "out_modes": [4, 4], "rank": 2, "activation": "relu"},
])
def test_stencil_forward_equals_the_forward_on_expanded_points(first, rng):
    problem = get_problem("hjb2")
    spec = ModelSpec.from_dict({"name": "t", "layers": [
        first, {"in_features": 16, "out_features": 1, "activation": "none"}]})
    model = TTMLP(spec)
    net = PinnNetwork(problem, model, chunk=7)  # chunks of one point (7 offsets)
    theta = model.init_params(rng)
    stencil = sparse_grid_stencil(3, 0.1, 2, problem.space)
    x = problem.domain.sample(rng, 5)
    offsets = stencil.sigma * stencil.offsets
    expanded = net.u(theta, stencil.points(x).reshape(-1, 3)).reshape(5, -1)
    np.testing.assert_allclose(net.u_stencil(theta, x, offsets), expanded, rtol=0, atol=1e-13)


@pytest.mark.parametrize("name, activation", [
    ("hjb5", "sine"), ("poisson2d", "tanh"), ("heat3", "sine"), ("poisson2d", "relu")])
def test_forward_mode_fields_equal_nested_reverse_mode(name, activation, rng):
    """u, gradient and Laplacian from one forward-mode pass through the network and the
    ansatz's chain rule, against autograd's nested reverse passes on u itself."""
    from autograd import elementwise_grad

    problem = get_problem(name)
    spec = ModelSpec.from_dict({"name": "t", "layers": [
        {"in_features": problem.dim, "out_features": 16, "activation": activation},
        {"in_modes": [4, 4], "out_modes": [4, 4], "rank": 2, "activation": activation},
        {"in_features": 16, "out_features": 1, "activation": "none"},
    ]})
    model = TTMLP(spec)
    net = PinnNetwork(problem, model)
    theta = model.init_params(rng)
    x = problem.domain.sample(rng, 6)
    u, grad, lap = net.traced_fields(theta, x, problem.space)

    u_fn = lambda xx: net.traced_u(theta, xx)  # noqa: E731
    grad_fn = elementwise_grad(u_fn)
    lap_ref = sum(elementwise_grad(lambda xx, i=i: grad_fn(xx)[:, i])(x)[:, i]
                  for i in problem.space)
    np.testing.assert_allclose(u, net.u(theta, x), rtol=1e-12)
    np.testing.assert_allclose(grad, grad_fn(x), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(lap, lap_ref, rtol=1e-9, atol=1e-10)
    assert np.abs(lap).max() > 1e-3  # not trivially zero


def test_hard_constraints_hold_for_any_network(rng):
    problem = get_problem("hjb20")
    x = problem.domain.sample(rng, 5)
    x[:, -1] = 1.0  # terminal time
    np.testing.assert_allclose(problem.solution(x, rng.standard_normal(5)), x[:, :20].sum(axis=1))
    poisson = get_problem("poisson2d")
    edge = poisson.domain.sample_faces(rng, 6)
    np.testing.assert_allclose(poisson.solution(edge, rng.standard_normal(6)), 0, atol=1e-15)


def test_hjb_network_with_the_exact_answer_has_zero_loss(rng):
    net, theta = small_net(get_problem("hjb5"))
    theta[:] = 0
    theta[-1] = 1.0  # NN = 1 everywhere: u = sum x + 1 - t
    x = net.problem.domain.sample(rng, 6)
    stein = SteinPinnObjective(net, sparse_grid_stencil(6, 0.1, 3, range(5)), x)
    assert stein.loss(theta) < 1e-20
    assert AutodiffPinnObjective(net, x).loss(theta) < 1e-20


@pytest.mark.parametrize("name", ["hjb5", "poisson2d", "heat3"])
def test_stein_and_autodiff_gradients_match_finite_differences(name, rng):
    problem = get_problem(name)
    net, theta = small_net(problem)
    x = problem.domain.sample(rng, 5)
    boundary = [BoundaryBatch.of(bc, bc.sample(rng, 4)) for bc in problem.boundary]
    objectives = [SteinPinnObjective(net, sparse_grid_stencil(problem.dim, problem.sigma, 3,
                                                              problem.space, form), x, boundary)
                  for form in ("stein", "heat")] + [AutodiffPinnObjective(net, x, boundary)]
    for objective in objectives:
        grad, loss = objective.gradient(theta)
        assert loss == pytest.approx(objective.loss(theta))
        eps = 1e-4  # the Stein loss divides by s^2 (1e-4 for Poisson): smaller steps hit rounding
        for i in rng.choice(net.dim, 12, replace=False):
            e = np.zeros(net.dim)
            e[i] = eps
            fd = (objective.loss(theta + e) - objective.loss(theta - e)) / (2 * eps)
            assert grad[i] == pytest.approx(fd, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("laplacian", ["stein", "heat"])
def test_stein_fields_approach_autodiff_fields_as_sigma_shrinks(rng, laplacian):
    problem = get_problem("hjb5")
    net, theta = small_net(problem)
    x = problem.domain.sample(rng, 6)
    exact = AutodiffPinnObjective(net, x).fields(theta)
    errors = []
    for sigma in (0.1, 0.01):
        st = sparse_grid_stencil(problem.dim, sigma, 3, problem.space, laplacian)
        f = SteinPinnObjective(net, st, x).fields(theta)
        errors.append(np.abs(f.lap - exact.lap).max())
        np.testing.assert_allclose(f.grad, exact.grad, atol=30 * sigma**2)
    assert errors[1] < errors[0] / 20  # O(sigma^2)


def test_query_counts_and_evaluations():
    problem = get_problem("hjb20")
    net, theta = small_net(problem)
    x = problem.domain.sample(np.random.default_rng(0), 3)
    objective = SteinPinnObjective(net, sparse_grid_stencil(21, 0.1, 3, problem.space), x)
    assert objective.evaluations_per_query == 3 * 925
    # the heat Laplacian's wider grid shares the centre and the time axis's points
    heat = SteinPinnObjective(net, sparse_grid_stencil(21, 0.1, 3, problem.space, "heat"), x)
    assert objective.evaluations_per_query < heat.evaluations_per_query < 3 * (2 * 925 - 1)
    assert heat.evaluations_per_query == 3 * heat.stencil.points_per_estimate
    objective.loss(theta)
    objective.loss(theta)
    assert objective.queries == 2


def test_short_bp_free_run_reduces_the_error():
    """Sixty RGE steps on Poisson-2D halve the relative L2 error of the initial network."""
    from ttzo.train.config import builtin_config, load_config
    from ttzo.train.loop import Trainer

    cfg = load_config(builtin_config("poisson2d_quick"),
                      {"train.epochs": 0.15, "pinn.pool": 20000})
    task = PDETask(TTMLP(cfg.model, dense_products=True), cfg.pinn, seed=0)
    trainer = Trainer(task, cfg.build_phases(task.dim), cfg.epochs, evals_per_epoch=100)
    before = task.evaluate(trainer.theta)["test_rel_l2"]
    last = trainer.run()
    assert trainer.forward_only
    assert last["test_rel_l2"] < 0.5 * before


def test_monte_carlo_task_shares_noise_within_a_step_and_redraws_across_steps():
    settings = PinnSettings(problem="hjb5", derivatives="monte-carlo", samples=8, pool=50,
                            val_points=5, test_points=10)
    net, _ = small_net(get_problem("hjb5"))
    task = PDETask(net.model, settings, seed=3)
    a, b = task.objective(np.arange(4)), task.objective(np.arange(4))
    c = task.objective(np.arange(4, 8))
    np.testing.assert_array_equal(a.stencil.offsets, b.stencil.offsets)
    assert not np.array_equal(a.stencil.offsets, c.stencil.offsets)


@pytest.mark.parametrize("table, message", [
    ({"problem": "wave3d"}, "unknown PDE problem 'wave3d'"),
    ({"problem": "hjb20", "derivatives": "finite"}, "derivatives must be one of"),
    ({"problem": "hjb20", "level": 0}, r"level must be a positive integer, not 0"),
    ({"problem": "hjb20", "sigma": -1.0}, r"sigma must be positive, not -1.0"),
    ({"problem": "hjb20", "laplacian": "fd"}, r"laplacian must be one of stein, heat, not 'fd'"),
    ({"problem": "hjb20", "colour": 1}, r"unknown setting\(s\) \['colour'\]"),
    ({}, "needs a problem"),
])
def test_bad_pinn_settings_name_the_value(table, message):
    with pytest.raises(ValueError, match=message):
        PinnSettings.from_dict(table)


def test_problem_api_errors():
    with pytest.raises(ValueError, match=r"coordinate\(s\) \[1\] have low >= high"):
        Box((0.0, 1.0), (1.0, 1.0))
    with pytest.raises(ValueError, match=r"space coordinates \[2\] are outside 0..1"):
        PDEProblem("p", Box.unit(2), (0, 2), residual=lambda f: f.lap)
    with pytest.raises(ValueError, match="needs a network with 21 inputs and 1 output"):
        PinnNetwork(get_problem("hjb20"), small_net(get_problem("hjb5"))[0].model)
    with pytest.raises(ValueError, match="has no exact solution"):
        PDEProblem("p", Box.unit(1), (0,), residual=lambda f: f.lap).relative_l2(
            np.zeros(2), np.zeros((2, 1)))


def test_train_poisson_cli_writes_result_plots_and_resumes(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "poisson2d", "--quick", "--run-dir", str(run), "--no-progress",
            "--set", "train.epochs=0.05", "--set", "pinn.pool=4000",
            "--set", "pinn.test_points=500"]
    assert main([*args, "--max-steps", "2"]) == 0
    assert main([*args, "--resume"]) == 0
    result = json.loads((run / "result.json").read_text())
    assert result["task"] == "poisson2d" and result["finished"] and result["forward_only"]
    assert result["steps"] == 4 and 0 < result["test_rel_l2"] < 2
    assert result["forward_queries"] == 4 * 20 + 0  # central RGE, 10 directions
    for name in ("training_curve.png", "solution_slice.png", "metrics.jsonl"):
        assert (run / name).stat().st_size > 0
    assert "relative L2 error" in capsys.readouterr().out


def test_zeroth_order_run_with_autodiff_derivatives_is_not_forward_only(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "poisson2d", "--quick", "--run-dir", str(run), "--no-progress",
                 "--set", "pinn.derivatives=autodiff", "--set", "pinn.pool=4000",
                 "--set", "pinn.test_points=500", "--max-steps", "1"]) == 0
    result = json.loads((run / "result.json").read_text())
    assert result["derivatives"] == "autodiff" and not result["forward_only"]


def test_pde_task_refuses_a_config_for_another_problem(tmp_path, capsys):
    from ttzo.train.config import builtin_config

    rc = main(["train", "hjb20", "--config", str(builtin_config("poisson2d_quick")),
               "--run-dir", str(tmp_path), "--no-progress"])
    assert rc == 2
    assert "the config solves 'poisson2d', not 'hjb20'" in capsys.readouterr().err


def test_shipped_pde_configs_parse_and_hjb20_takes_a_step(tmp_path):
    from ttzo.train.config import builtin_config, load_config

    shipped = {p.stem: load_config(p) for p in builtin_config("hjb20").parent.glob("*.toml")
               if not p.stem.startswith("mnist")}
    assert {"hjb20", "poisson2d", "heat100", "hjb20_finetune", "hjb20_polish",
            "hjb20_polish2"} <= set(shipped)
    for name, cfg in shipped.items():
        assert cfg.pinn.problem == name.split("_")[0], name
        assert cfg.forward_only == ("firstorder" not in name), name
    assert shipped["hjb20"].model.params == 1929  # the authors' network
    # the fine-tuning phases continue the same network
    for name in ("hjb20_finetune", "hjb20_polish", "hjb20_polish2"):
        assert shipped[name].model == shipped["hjb20"].model
    run = tmp_path / "hjb"
    assert main(["train", "hjb20", "--quick", "--run-dir", str(run), "--no-progress",
                 "--max-steps", "1", "--set", "pinn.test_points=200"]) == 0
    result = json.loads((run / "result.json").read_text())
    assert result["forward_queries"] == 20 and result["steps"] == 1


def test_zero_output_layer_starts_from_the_ansatz():
    settings = PinnSettings(problem="hjb5", pool=20, val_points=4, test_points=50,
                            zero_output_layer=True)
    net, _ = small_net(get_problem("hjb5"))
    task = PDETask(net.model, settings, seed=0)
    theta = task.init_params(np.random.default_rng(0))
    x = task.x_test
    np.testing.assert_allclose(task.predict(theta, x), x[:, :5].sum(axis=1))  # NN = 0
    assert np.count_nonzero(theta) > 0  # the hidden layers keep their random start
    # with NN = 0 the error is that of 1 - t against the solution, computed independently
    exact = x[:, :5].sum(axis=1) + 1 - x[:, 5]
    assert task.evaluate(theta)["test_rel_l2"] == pytest.approx(
        np.linalg.norm(1 - x[:, 5]) / np.linalg.norm(exact))


def test_parallel_queries_equal_serial_ones_bit_for_bit():
    """Two forked workers serve a Stein step's direction queries; the numbers do not change,
    neither per query nor over a few training steps."""
    from ttzo.train.config import builtin_config, load_config
    from ttzo.train.loop import Trainer
    from ttzo.zo import ParallelQueries, get_directions, query_seed

    cfg = load_config(builtin_config("poisson2d_quick"), {"pinn.pool": 2000})
    task = PDETask(TTMLP(cfg.model, dense_products=True), cfg.pinn, seed=0)
    theta = task.init_params(np.random.default_rng(1))
    serial = task.objective(np.arange(8))
    parallel = ParallelQueries(task.objective(np.arange(8)), workers=2)
    seeds = [query_seed(5, q) for q in range(5)]
    steps = [0.01, -0.01, 0.02, 0.01, -0.03]
    rademacher = get_directions("rademacher")
    expected = serial.direction_losses(theta, rademacher, seeds, steps)
    got = parallel.direction_losses(theta, rademacher, seeds, steps)
    assert np.array_equal(got, expected) and parallel.queries == 5
    assert parallel.loss(theta) == serial.loss(theta) and parallel.queries == 6
    # other attributes come from the wrapped objective
    assert parallel.evaluations_per_query == serial.evaluations_per_query
    with pytest.raises(ValueError, match="workers must be a positive integer, not 0"):
        ParallelQueries(serial, 0)

    thetas = []
    for workers in (1, 2):
        trainer = Trainer(task, cfg.build_phases(task.dim), 0.01, workers=workers)
        trainer.run(stop_after_steps=3)
        thetas.append(trainer.theta.copy())
    assert np.array_equal(thetas[0], thetas[1])

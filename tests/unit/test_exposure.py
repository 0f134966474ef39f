"""Tocilizumab exposure (Frey 2010 typical PK) and the turnover solver against references:
closed forms of linear PK, the simulator's independent fixed-step solver, and scipy's solve_ivp
on the continuous turnover problem."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy.integrate import solve_ivp

from il6fit.exposure import Doses, Regimen, TypicalPK, concentrations
from il6fit.models.turnover import course_fraction, course_grid, step_edges, visit_segments

PK = TypicalPK()
WEEKS = np.array([0, 2, 4, 8, 12, 16, 20, 24])
#: Levi 2013's typical EC50 (µg/mL), Emax and Hill coefficient; a background inhibition of 0.1
LEVI = {"ec50": 3.7, "imax": 0.73, "h": 0.64, "background": 0.1}


def test_linear_two_compartment_bolus_matches_its_closed_form():
    pk = TypicalPK(vmax=0.0)
    days = np.array([0.5, 3.0, 10.0, 27.9])
    got = concentrations(Regimen("iv", 560, "mg", 28), days, [70.0], [False], pk)[0]
    k10, k12, k21 = pk.cl / pk.v1, pk.q / pk.v1, pk.q / pk.v2
    total = k10 + k12 + k21
    alpha = (total + np.sqrt(total**2 - 4 * k10 * k21)) / 2
    beta = (total - np.sqrt(total**2 - 4 * k10 * k21)) / 2
    c0 = 560 / pk.v1
    expected = c0 * (
        (alpha - k21) / (alpha - beta) * np.exp(-alpha * days)
        + (k21 - beta) / (alpha - beta) * np.exp(-beta * days)
    )
    np.testing.assert_allclose(got, expected, rtol=1e-7)


def test_subcutaneous_exposure_of_linear_pk_is_f_dose_over_clearance():
    pk = TypicalPK(vmax=0.0)
    days = np.linspace(0, 3000, 60001)
    c = concentrations(Regimen("sc", 162, "mg", 10000), days, [70.0], [True], pk)[0]
    clearance = pk.cl * pk.cl_female
    assert np.trapezoid(c, days) == pytest.approx(pk.f_sc * 162 / clearance, rel=1e-4)


@pytest.mark.parametrize(("dose", "auc"), [(4, 11400), (8, 29900)])
def test_typical_steady_state_auc_agrees_with_the_simulators_own_solver(dose, auc):
    # il6fit.simulate.pkpd integrates the same model with explicit Euler steps of 0.05 days
    days = np.linspace(140, 168, 2801)
    c = concentrations(Regimen("iv", dose, "mg/kg", 28), days, [70.0], [False])[0]
    assert 24 * np.trapezoid(c, days) == pytest.approx(auc, rel=0.01)


def test_iv_doses_are_capped_at_800_mg_and_doses_scale_with_weight():
    regimen = Regimen("iv", 8, "mg/kg", 28)
    np.testing.assert_allclose(regimen.doses_mg(np.array([50.0, 120.0])), [400.0, 800.0])
    assert Regimen("sc", 162, "mg", 7).doses_mg(np.array([50.0]))[0] == 162
    with pytest.raises(ValueError, match="route"):
        Regimen("oral", 1, "mg", 1)


def test_recorded_doses_on_schedule_give_the_regimens_concentrations_exactly():
    days = np.linspace(0, 170, 120)
    for regimen in (Regimen("iv", 8, "mg/kg", 28), Regimen("sc", 162, "mg", 7)):
        times = tuple(regimen.times(171.0))
        n = len(times)
        doses = Doses(times, (regimen.dose,) * n, (regimen.unit,) * n, (regimen.route,) * n)
        weight, female = [58.0, 104.0], [True, False]
        np.testing.assert_array_equal(
            concentrations([doses, doses], days, weight, female),
            concentrations(regimen, days, weight, female),
        )


def test_recorded_doses_of_linear_pk_superpose_each_doses_closed_form():
    # a delayed second dose of another size and a skipped third (recorded as 0)
    pk = TypicalPK(vmax=0.0)
    doses = Doses((0.0, 33.0, 61.0), (560.0, 4.0, 0.0), ("mg", "mg/kg", "mg"), ("iv",) * 3)
    days = np.array([0.5, 20.0, 32.9, 33.0, 40.0, 70.0])
    got = concentrations([doses], days, [80.0], [False], pk)[0]
    k10, k12, k21 = pk.cl * (80 / 70) ** 0.7 / pk.v1, pk.q / pk.v1, pk.q / pk.v2
    total = k10 + k12 + k21
    alpha = (total + np.sqrt(total**2 - 4 * k10 * k21)) / 2
    beta = (total - np.sqrt(total**2 - 4 * k10 * k21)) / 2

    def unit(t):
        t = np.where(t >= 0, t, np.inf)
        return (
            (alpha - k21) / (alpha - beta) * np.exp(-alpha * t)
            + (k21 - beta) / (alpha - beta) * np.exp(-beta * t)
        ) / pk.v1

    expected = 560 * unit(days) + 320 * unit(days - 33.0)
    np.testing.assert_allclose(got, expected, rtol=1e-7)


def test_a_record_mixing_routes_has_the_area_of_the_bioavailable_doses():
    pk = TypicalPK(vmax=0.0)
    doses = Doses((0.0, 10.0), (560.0, 162.0), ("mg", "mg"), ("iv", "sc"))
    days = np.linspace(0, 3000, 60001)
    c = concentrations([doses], days, [70.0], [False], pk)[0]
    assert np.trapezoid(c, days) == pytest.approx((560 + pk.f_sc * 162) / pk.cl, rel=1e-4)


@pytest.mark.parametrize(
    ("text", "problem"),
    [("day 0: 8 mg/kg", "write each as"), ("day 28: 8 mg/kg IV; day 0: 8 mg/kg IV", "order")],
)
def test_doses_in_words_are_read_or_refused_with_the_form_expected(text, problem):
    assert Doses.parse("day 0: 8 mg/kg IV; day 29.5: 162 mg sc").routes == ("iv", "sc")
    with pytest.raises(ValueError, match=problem):
        Doses.parse(text)


def reference_course(regimen, kout, weeks, weight=70.0, female=False):
    """PK and turnover (baseline 1) solved together by solve_ivp, dose to dose."""
    dose = regimen.doses_mg(np.array([weight]))[0]
    cl = PK.cl * (weight / 70) ** PK.cl_weight_power * (PK.cl_female if female else 1.0)
    ka = PK.ka if regimen.route == "sc" else 0.0

    def rates(_t, y):
        depot, a1, a2, r = y
        c = max(a1 / PK.v1, 0.0)
        exchange = PK.q * (c - a2 / PK.v2)
        effect = LEVI["imax"] * c ** LEVI["h"] / (LEVI["ec50"] ** LEVI["h"] + c ** LEVI["h"])
        drive = (1 - LEVI["background"]) * (1 - effect)
        return [
            -ka * depot,
            ka * depot - cl * c - exchange - PK.vmax * c / (PK.km + c),
            exchange,
            kout * (drive - r),
        ]

    visits = weeks * 7.0
    doses = regimen.times(visits.max())
    times = np.union1d(doses, visits)
    state, found = np.array([0.0, 0.0, 0.0, 1.0]), {}
    into, amount = (0, PK.f_sc * dose) if regimen.route == "sc" else (1, dose)
    for i, t in enumerate(times):
        if t in doses:
            state[into] += amount
        found[t] = state[3]
        if i + 1 < len(times):
            step = solve_ivp(rates, (t, times[i + 1]), state, method="DOP853", rtol=1e-11)
            state = step.y[:, -1].copy()
    return np.array([found[v] for v in visits])


def solved_course(regimen, kout, step, weeks, weight=70.0, female=False):
    edges = step_edges(weeks.max() * 7.0, regimen.times(weeks.max() * 7.0), step)
    c = concentrations(regimen, (edges[1:] + edges[:-1]) / 2, [weight], [female])
    effect = LEVI["imax"] * c ** LEVI["h"] / (LEVI["ec50"] ** LEVI["h"] + c ** LEVI["h"])
    remaining = (1 - LEVI["background"]) * (1 - effect)
    return course_fraction(remaining, kout, edges, weeks * 7.0)[0]


@pytest.mark.parametrize(
    ("regimen", "step"),
    [
        (Regimen("iv", 8, "mg/kg", 28), 0.5),
        (Regimen("iv", 4, "mg/kg", 28), 0.5),
        (Regimen("sc", 162, "mg", 7), 0.25),
        (Regimen("sc", 162, "mg", 14), 0.25),
    ],
)
@pytest.mark.parametrize("kout", [0.038, 0.19])  # Levi's 18-day half-life, and 5 times faster
def test_turnover_solver_matches_solve_ivp_to_1e4_of_baseline(regimen, step, kout):
    expected = reference_course(regimen, kout, WEEKS)
    got = solved_course(regimen, kout, step, WEEKS)
    assert np.max(np.abs(got - expected)) < 1e-4


def test_turnover_in_pytensor_is_the_numpy_course_and_differentiable():
    edges = step_edges(168.0, np.arange(0, 168, 28.0), 0.5)
    rng = np.random.default_rng(1)
    remaining = rng.uniform(0.2, 1.0, size=(3, edges.size - 1))
    kout = pt.dscalar("kout")
    g = course_fraction(pt.as_tensor(remaining), kout, edges, WEEKS * 7.0)
    value = pytensor.function([kout], [g, pt.grad(g.sum(), kout)], mode="FAST_COMPILE")
    got, slope = value(0.05)
    np.testing.assert_allclose(got, course_fraction(remaining, 0.05, edges, WEEKS * 7.0))
    h = 1e-6
    numeric = (
        course_fraction(remaining, 0.05 + h, edges, WEEKS * 7.0).sum()
        - course_fraction(remaining, 0.05 - h, edges, WEEKS * 7.0).sum()
    ) / (2 * h)
    assert slope == pytest.approx(numeric, rel=1e-6)


def test_a_rate_per_draw_gives_each_draws_course():
    edges = step_edges(56.0, np.array([0.0, 28.0]), 1.0)
    remaining = np.random.default_rng(2).uniform(0.3, 1.0, size=(4, edges.size - 1))
    rates = np.array([0.02, 0.04, 0.1])
    together = course_fraction(remaining[None], rates[:, None, None], edges, np.array([0, 28, 56]))
    for i, rate in enumerate(rates):
        np.testing.assert_allclose(
            together[i], course_fraction(remaining, rate, edges, np.array([0, 28, 56]))
        )


@pytest.mark.parametrize("first_visit", [0.0, 7.0])
def test_a_grid_of_drives_and_rates_per_subject_gives_each_pairs_course(first_visit):
    # finer steps after subcutaneous doses, and a first visit after day 0
    edges = step_edges(168.0, np.arange(0, 168, 14.0), 1.0)
    visits = np.array([first_visit, 14, 28, 56, 84, 168])
    rng = np.random.default_rng(3)
    remaining = rng.uniform(0.2, 1.0, size=(3, 4, edges.size - 1))  # (subjects, k, steps)
    rates = rng.uniform(1e-4, 5.0, size=(3, 5))  # (subjects, m): one day to 27 years
    segments = visit_segments(edges, visits)
    on_segments = remaining[:, :, segments.slot].transpose(0, 2, 1, 3)
    expected = course_fraction(remaining[:, :, None, :], rates[:, None, :, None], edges, visits)
    np.testing.assert_allclose(course_grid(on_segments, rates, segments), expected, atol=1e-13)
    drive, rate = pt.tensor4("drive"), pt.matrix("rate")
    g = pytensor.function([drive, rate], course_grid(drive, rate, segments), mode="FAST_COMPILE")
    np.testing.assert_allclose(g(on_segments, rates), expected, atol=1e-13)


def test_visits_must_fall_on_step_boundaries():
    with pytest.raises(ValueError, match="boundary"):
        course_fraction(np.ones((1, 10)), 0.1, np.arange(11.0), np.array([2.5]))


IV8 = Regimen("iv", 8, "mg/kg", 28)


def test_a_sample_on_a_dosing_day_is_the_trough_before_the_dose():
    from il6fit.exposure import _solve, regimen_schedule

    days = np.array([27.999, 28.0, 28.001])
    after = concentrations(IV8, days, [70.0], [False])[0]
    schedule = regimen_schedule(IV8, np.array([70.0]), 29, PK.f_sc)
    before = _solve(schedule, days, np.array([70.0]), np.array([False]), PK, pre_dose=True)[0]
    assert before[1] == pytest.approx(before[0], rel=1e-3)
    assert after[1] == pytest.approx(after[2], rel=1e-3) and after[1] > 10 * before[1]


def grid_posterior(samples, days, regimen, weight, female, points):
    """Posterior mean concentration and (ln CL, ln Vmax) effects on a grid of ``points``^2."""
    from scipy.stats import multivariate_normal

    from il6fit.exposure import PKVariability, _solve, regimen_schedule

    v = PKVariability()
    axis = np.linspace(-4.5, 4.5, points)
    z = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
    eta = z @ np.linalg.cholesky(v.covariance()).T
    when, value, cens = samples
    at = np.union1d(when, days)
    n = len(eta)
    schedule = regimen_schedule(regimen, np.full(n, weight), at.max() + 1, PK.f_sc)
    c = _solve(schedule, at, np.full(n, weight), np.full(n, female), PK, scale=np.exp(eta),
               pre_dose=True)  # fmt: skip
    predicted = c[:, np.searchsorted(at, when)]
    sd = v.residual_sd(predicted)
    from scipy.stats import norm

    log_like = np.where(
        cens == 0, norm.logpdf(value, predicted, sd), norm.logcdf(value, predicted, sd)
    ).sum(axis=1)
    log_post = log_like + multivariate_normal(cov=v.covariance()).logpdf(eta)
    w = np.exp(log_post - log_post.max())
    w /= w.sum()
    return w @ c[:, np.searchsorted(at, days)], w @ eta


@pytest.mark.parametrize(
    "values, cens",
    [
        (np.array([60.0, 14.0, 30.0, 9.0]), np.array([0, 0, 0, 0])),  # slow clearance
        (np.array([20.0, 0.1, 0.1, 0.1]), np.array([0, -1, -1, -1])),  # fast: below the limit
    ],
)
def test_individual_exposure_is_the_grid_posterior_mean_of_freys_model(values, cens):
    from il6fit.exposure import individual_concentrations

    samples = (np.array([14.0, 28.0, 42.0, 56.0]), values, cens)
    days = np.array([7.5, 20.5, 50.5])
    fit = individual_concentrations(IV8, days, [64.0], [True], [samples])
    fine, eta = grid_posterior(samples, days, IV8, 64.0, True, 61)
    np.testing.assert_allclose(fit.concentration[0], fine, rtol=0.02)
    np.testing.assert_allclose(fit.log_scale[0], eta, atol=0.02)
    typical = concentrations(IV8, days, [64.0], [True])[0]
    # the samples move the course away from the typical one, the way they point
    slower = cens[1] == 0
    assert (fit.concentration[0, -1] > typical[-1]) == slower

"""Named cohort scenarios and their parameters, each default with its source.

Sources are sections of ``domain-facts.md`` (in brackets) and the papers named there; values
marked UNVERIFIED are assumptions where no published number was found.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Literal

from il6fit.errors import SpecError
from il6fit.simulate.pkpd import PDParameters, PKParameters


@dataclass(frozen=True)
class Arm:
    """A treatment arm: its label in ``TRT01P`` and its tocilizumab regimen.

    ``dose`` is mg/kg for intravenous doses (capped at 800 mg, label) and mg for subcutaneous
    ones, given every ``every_weeks`` weeks from day 0; 0 for no drug.
    """

    label: str
    dose: float
    route: Literal["iv", "sc"] = "iv"
    every_weeks: float = 4.0

    def __post_init__(self):
        if self.route not in ("iv", "sc"):
            raise SpecError(f"arm '{self.label}': route must be 'iv' or 'sc', not {self.route!r}.")
        if self.every_weeks <= 0:
            raise SpecError(f"arm '{self.label}': every_weeks must be positive.")


@dataclass(frozen=True)
class Scenario:
    """Parameters of a simulated cohort.

    ``population`` selects the biology: ``ra`` (rheumatoid arthritis, disease activity and
    optional tocilizumab), ``healthy`` (no disease activity) or ``covid`` (hospitalised COVID-19,
    in-hospital death in ``DTHFL``).
    """

    name: str
    study: str
    population: str
    n_subjects: int = 300
    n_sites: int = 6
    weeks: tuple[float, ...] = (0,)
    arms: tuple[Arm, ...] = (Arm("Healthy control", 0.0),)
    # demographics: ~80-84 % female, median age 52-54, median weight 67-73 kg [§6, Frey 2010]
    female_fraction: float = 0.82
    age_mean: float = 53.0  # years
    age_sd: float = 12.0
    bmi_median: float = 27.0  # kg/m²
    bmi_sd_log: float = 0.18
    height_female: float = 1.63  # m, UNVERIFIED (typical adult heights)
    height_male: float = 1.76  # m, UNVERIFIED
    height_sd: float = 0.07
    # IL-6: RA median ~22 pg/mL, sd_ln 1.13 [§1a, OPTION 22, TOWARD 19.9; sarilumab pool];
    # healthy median 2-5 pg/mL, sd_ln 0.6-0.8 (UNVERIFIED) [§1a]
    il6_median: float = 22.0  # pg/mL
    il6_sd_log: float = 1.13
    il6_bmi: float = 0.03  # ln(pg/mL) per kg/m² [§6, Mohamed-Ali 1997, r = 0.48 with BMI]
    il6_age: float = 0.01  # ln(pg/mL) per year [§1a, Said 2021: +0.05 pg/mL per year]
    il6_site_sd: float = 0.15  # between-site/assay differences [§1a], size UNVERIFIED
    il6_visit_sd: float = 0.3  # within-subject visit-to-visit, ln(pg/mL), UNVERIFIED
    # production follows disease activity (Wang 2013 [§6]); size UNVERIFIED
    il6_activity: float = 0.25  # ln(pg/mL) per DAS28 unit
    # receptor blockade raises serum IL-6 "several-fold" (UNVERIFIED size) [§5b, Nishimoto 2008]
    il6_blockade_rise_log: float = 1.5
    # CRP: RA median ~16 mg/L, sd_ln 0.86 [§2c, sarilumab pool]; log-log slope 0.6-0.9 [§2d]
    crp_median: float = 15.7  # mg/L at il6_median
    crp_il6_slope: float = 0.75  # ln(mg/L) per ln(pg/mL)
    crp_bmi: float = 0.04  # ln(mg/L) per kg/m² [§6, George 2017: 0.03-0.06]
    crp_sd_log: float = 0.55  # residual, chosen so total sd_ln ~0.95 [§2c: 0.86-0.96]
    crp_site_sd: float = 0.2  # UNVERIFIED
    crp_visit_sd: float = 0.25  # within-subject, ln(mg/L), UNVERIFIED
    # assays: Elecsys IL-6 1.5-5000 pg/mL [§1c]; hs-CRP LoD ~0.3 mg/L [§2a], ceiling 320 [§2a]
    il6_lloq: float = 1.5
    il6_uloq: float = 5000.0
    crp_lloq: float = 0.3
    crp_uloq: float = 320.0
    il6_assay_cv: float = 0.10  # UNVERIFIED
    crp_assay_cv: float = 0.05  # UNVERIFIED
    # sites with index >= this report CRP in mg/dL, as RADIATE and Japanese cohorts did [§2b]
    crp_mgdl_from_site: int | None = None
    # measured tocilizumab (PARAMCD TCZ) at every attended visit after baseline of a treated
    # subject, pre-dose at dosing visits, with Frey 2010's residual error, 22 % proportional and
    # 2.4 µg/mL additive [§5c]; assay limit 0.1 µg/mL (UNVERIFIED). Drawn from a stream of
    # their own, so the other data are the same with and without them.
    tcz_samples: bool = False
    tcz_lloq: float = 0.1
    # ESR: RA baselines ~46-71 mm/h [§3a]; women and age raise it (Miller rule) [§3a]
    esr_median: float = 50.0  # mm/h at crp_median, female, age 53
    esr_crp_slope: float = 0.5  # ln(mm/h) per ln(mg/L); ESR-CRP r = 0.80 [§2d, Boss 2000]
    esr_male: float = -0.2  # ln(mm/h)
    esr_age: float = 0.01  # ln(mm/h) per year
    esr_sd_log: float = 0.3
    # disease activity: Levi 2013 BASE 6.8 (IIV 9.4 %), x L^0.13 for baseline IL-6 [§5c];
    # RADIATE baseline DAS28 6.79 (0.93) [§4]
    das28_base: float = 6.8
    das28_base_cv: float = 0.094
    das28_il6_power: float = 0.13
    # how DAS28 splits over its parts at a trial baseline (TJC ~16, SJC ~11, PtGA ~62 give
    # 2.24 / 0.93 / 0.87 of the non-ESR part); share concentration and count overdispersion
    # set the residual DAS28 noise to ~0.5 (Levi residual SD 0.68 [§5c]); UNVERIFIED split
    das28_shares: tuple[float, float, float] = (0.555, 0.23, 0.215)
    das28_share_concentration: float = 50.0
    joint_count_concentration: float = 8.0
    ptga_sd: float = 10.0  # mm
    # observational cohorts: activity drifts around each subject's level between visits
    das28_visit_sd: float = 0.0
    das28_visit_rho: float = 0.7
    # on background DMARD (MTX): 1 for the trial and the cohort, 0 for controls
    dmard: bool = False
    pk: PKParameters = field(default_factory=PKParameters)
    pd: PDParameters = field(default_factory=PDParameters)
    # reality: intermittent missed visits (at random) and dropout that rises with activity
    visit_missing: float = 0.05
    dropout_per_visit: float = 0.02
    dropout_if_high_activity: float = 0.04  # extra, while the last DAS28 > 5.1 (not at random)
    # COVID-19: in-hospital death; logistic in ln IL-6 and ln CRP (UNVERIFIED coefficients,
    # chosen so IL-6 > 80 pg/mL and CRP > 97 mg/L mark high risk [§7, Herold 2020])
    death_baseline: float = 0.2  # probability at the median IL-6 and CRP
    death_il6: float = 0.8  # log-odds per ln(pg/mL)
    death_crp: float = 0.5  # log-odds per ln(mg/L)


SCENARIOS: dict[str, Scenario] = {
    "ra_tcz_trial": Scenario(
        name="ra_tcz_trial",
        study="IL6FIT-RA",
        population="ra",
        # OPTION: placebo + MTX, TCZ 4 and 8 mg/kg IV q4w, 24 weeks [§4]
        weeks=(0, 2, 4, 8, 12, 16, 20, 24),
        arms=(
            Arm("Placebo + MTX", 0.0),
            Arm("TCZ 4 mg/kg + MTX", 4.0),
            Arm("TCZ 8 mg/kg + MTX", 8.0),
        ),
        dmard=True,
        # Levi's Emax 0.73 meets OPTION's week-24 remission (27 / 13 / 1 %; simulated 32 / 14 /
        # 1 %) and the Levi model's own DAS28 change within 0.2 (docs/simulator-calibration.md)
        crp_mgdl_from_site=5,
        tcz_samples=True,
    ),
    "ra_cohort": Scenario(
        name="ra_cohort",
        study="IL6FIT-COH",
        population="ra",
        n_subjects=500,
        n_sites=4,
        weeks=(0, 12, 24, 36, 52),
        arms=(Arm("csDMARD (usual care)", 0.0),),
        dmard=True,
        # treated observational cohorts are less active than trial entrants (UNVERIFIED)
        das28_base=5.0,
        das28_base_cv=0.22,
        il6_median=12.0,
        crp_median=8.0,
        esr_median=30.0,
        das28_visit_sd=0.6,
        dropout_per_visit=0.03,
    ),
    "healthy": Scenario(
        name="healthy",
        study="IL6FIT-HC",
        population="healthy",
        n_sites=3,
        female_fraction=0.5,
        age_mean=45.0,
        age_sd=14.0,
        bmi_median=25.5,
        il6_median=3.0,
        il6_sd_log=0.7,
        # healthy blood donors: CRP median 0.6-0.8 mg/L [§2a]
        crp_median=0.8,
        esr_median=10.0,
    ),
    "covid": Scenario(
        name="covid",
        study="IL6FIT-COV",
        population="covid",
        n_sites=2,
        weeks=(0, 0.5, 1, 2),
        arms=(Arm("Standard care", 0.0),),
        female_fraction=0.45,
        age_mean=60.0,
        age_sd=15.0,
        # severe COVID IL-6 pooled mean 36.7 pg/mL [§7, Leisman 2020]; sd_ln 1.69 (Tongji) [§1b]
        il6_median=25.0,
        il6_sd_log=1.69,
        # slope 0.85 (Tongji, same-day pairs) [§2d]; CRP median (UNVERIFIED, below RECOVERY's
        # enrolment median of 143 mg/L, which required CRP >= 75 [§7])
        crp_median=40.0,
        crp_il6_slope=0.85,
        crp_sd_log=0.8,
        # Tongji lab: hs-CRP 0.1-320 mg/L [§2a]
        crp_lloq=0.1,
        esr_median=40.0,
        visit_missing=0.1,
        dropout_per_visit=0.0,
    ),
}


def scenario(name: str, **overrides: object) -> Scenario:
    """Return a named scenario with some fields replaced.

    Parameters
    ----------
    name : str
        One of :data:`SCENARIOS`.
    **overrides
        Fields of :class:`Scenario` to replace, e.g. ``n_subjects=100``.

    Returns
    -------
    Scenario

    Raises
    ------
    SpecError
        For an unknown scenario or field.
    """
    if name not in SCENARIOS:
        raise SpecError(f"unknown scenario '{name}'; choose one of {', '.join(SCENARIOS)}.")
    known = {f.name for f in fields(Scenario)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise SpecError(
            f"unknown scenario option(s) {', '.join(unknown)} for '{name}'; "
            f"options are the fields of il6fit.simulate.Scenario."
        )
    return replace(SCENARIOS[name], **overrides)

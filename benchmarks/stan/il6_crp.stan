// il6_crp (il6fit/models/il6_crp.py), normal residuals, vectorised. IL-6 beyond its limits is a
// latent value bounded by the limit with the untruncated population density (as the PyMC model:
// truncated normal plus its normalising constant); CRP beyond its limits contributes the
// probability of lying beyond them. Priors are the model's defaults.
data {
  int<lower=1> N;
  int<lower=2> J;
  array[N] int<lower=1, upper=J> site;
  vector[N] log_il6;  // the value, or the log of the limit where censored
  int<lower=0> n_meas;
  array[n_meas] int<lower=1, upper=N> il6_meas;
  int<lower=0> n_below;
  array[n_below] int<lower=1, upper=N> il6_below;
  int<lower=0> n_above;
  array[n_above] int<lower=1, upper=N> il6_above;
  vector[N] log_crp;
  int<lower=0> n_obs;
  array[n_obs] int<lower=1, upper=N> crp_obs;
  int<lower=0> n_lo;
  array[n_lo] int<lower=1, upper=N> crp_lo;
  int<lower=0> n_hi;
  array[n_hi] int<lower=1, upper=N> crp_hi;
  vector[N] bmi;
  vector[N] male;
  vector[N] age;
}
parameters {
  real mu_il6;
  real<lower=0> sigma_il6;
  vector<upper=log_il6[il6_below]>[n_below] x_below;
  vector<lower=log_il6[il6_above]>[n_above] x_above;
  real alpha;
  real beta_il6;
  real beta_bmi;
  real beta_male;
  real beta_age;
  real<lower=0> tau_site;
  sum_to_zero_vector[J] z_site;
  real<lower=0> sigma;
}
transformed parameters {
  vector[J] alpha_site = tau_site * z_site;
}
model {
  vector[N] x = log_il6;
  x[il6_below] = x_below;
  x[il6_above] = x_above;
  vector[N] mu = alpha + alpha_site[site] + beta_il6 * (x - log(20)) + beta_bmi * bmi
                 + beta_male * male + beta_age * age;
  mu_il6 ~ normal(3, 1.5);
  sigma_il6 ~ normal(0, 1.5);
  alpha ~ normal(2, 1.5);
  beta_il6 ~ normal(0.7, 0.5);
  beta_bmi ~ normal(0.2, 0.3);
  beta_male ~ normal(0, 0.5);
  beta_age ~ normal(0, 0.3);
  tau_site ~ normal(0, 0.5);
  z_site ~ normal(0, 1);
  sigma ~ normal(0, 1);
  log_il6[il6_meas] ~ normal(mu_il6, sigma_il6);
  x_below ~ normal(mu_il6, sigma_il6);
  x_above ~ normal(mu_il6, sigma_il6);
  log_crp[crp_obs] ~ normal(mu[crp_obs], sigma);
  target += normal_lcdf(log_crp[crp_lo] | mu[crp_lo], sigma);
  target += normal_lccdf(log_crp[crp_hi] | mu[crp_hi], sigma);
}

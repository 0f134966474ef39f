// treatment_response (il6fit/models/treatment_response.py), vectorised, non-centred as written;
// priors are the model's defaults (HalfNormal(s) = normal(0, s) on a positive parameter).
data {
  int<lower=1> N;
  int<lower=1> S;
  int<lower=1> A;
  vector[N] week;
  array[N] int<lower=1, upper=S> subject;
  vector[N] y;
  vector[S] x;
  vector[S] active;
  array[S] int<lower=1, upper=A> arm;
}
parameters {
  real mu_base;
  real gamma_base;
  real<lower=0> sigma_base;
  vector[S] z_base;
  vector[A] delta;
  real eta;
  real<lower=0> tau_delta;
  vector[S] z_delta;
  real log_k;
  real<lower=0> sigma;
}
transformed parameters {
  vector[S] base = mu_base + gamma_base * x + sigma_base * z_base;
  real k = exp(log_k);
}
model {
  vector[S] plateau = delta[arm] + eta * active .* x + tau_delta * z_delta;
  mu_base ~ normal(6.5, 1);
  gamma_base ~ normal(0, 0.5);
  sigma_base ~ normal(0, 1);
  z_base ~ std_normal();
  delta ~ normal(-1.5, 2);
  eta ~ normal(0, 0.5);
  tau_delta ~ normal(0, 1);
  z_delta ~ std_normal();
  log_k ~ normal(log(0.27), 0.7);
  sigma ~ normal(0, 1);
  y ~ normal(base[subject] + plateau[subject] .* (1 - exp(-k * week)), sigma);
}

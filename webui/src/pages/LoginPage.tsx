import { useState, type FormEvent } from "react";
import { Link, useLocation } from "react-router";
import { AuthLayout } from "../components/AuthLayout";
import { Field } from "../components/Field";
import { useAuth } from "../lib/auth";
import { ApiError } from "../lib/errors";

export default function LoginPage() {
  const { login, notice } = useAuth();
  const location = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(email.trim(), password);
    } catch (failure) {
      if (failure instanceof ApiError && failure.code === "RATE_LIMITED") {
        const seconds = Number(failure.extensions["retryAfterSeconds"] ?? 60);
        setError(`Too many attempts. Try again in ${Math.ceil(seconds / 60)} minute(s).`);
      } else if (failure instanceof ApiError && failure.code === "UNAUTHENTICATED") {
        setError("Wrong email or password.");
      } else {
        setError(failure instanceof Error ? failure.message : String(failure));
      }
      setBusy(false);
    }
  };

  return (
    <AuthLayout title="Log in" subtitle="Welcome back."
      footer={<>New to TrackMint? <Link to={`/signup${location.search}`}>Create an account</Link></>}>
      {notice && !error ? <div className="alert alert-info">{notice}</div> : null}
      {error ? <div className="alert alert-error" role="alert">{error}</div> : null}
      <form className="form" onSubmit={submit}>
        <Field label="Email" type="email" name="email" autoComplete="email" required value={email}
          onChange={(e) => setEmail(e.target.value)} autoFocus />
        <Field label="Password" type="password" name="password" autoComplete="current-password" required
          value={password} onChange={(e) => setPassword(e.target.value)} />
        <button type="submit" className="button button-primary button-block" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
    </AuthLayout>
  );
}

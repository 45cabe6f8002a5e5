import { useState, type FormEvent } from "react";
import { Link, useLocation } from "react-router";
import { AuthLayout } from "../components/AuthLayout";
import { Field } from "../components/Field";
import { useAuth } from "../lib/auth";
import { ApiError } from "../lib/errors";

const MIN_PASSWORD = 10;

export default function SignupPage() {
  const { register } = useAuth();
  const location = useLocation();
  const [form, setForm] = useState({ name: "", orgName: "", email: "", password: "" });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (key: keyof typeof form) => (event: React.ChangeEvent<HTMLInputElement>) =>
    setForm({ ...form, [key]: event.target.value });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (form.password.length < MIN_PASSWORD) {
      setError(`The password needs at least ${MIN_PASSWORD} characters.`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await register({ ...form, email: form.email.trim(), orgName: form.orgName.trim(), name: form.name.trim() });
    } catch (failure) {
      setError(failure instanceof ApiError && failure.code === "CONFLICT"
        ? "An account with this email already exists. Log in instead."
        : failure instanceof Error ? failure.message : String(failure));
      setBusy(false);
    }
  };

  return (
    <AuthLayout title="Create your account" subtitle="Start a new organization. You will be its admin."
      footer={<>Already have an account? <Link to={`/login${location.search}`}>Log in</Link></>}>
      {error ? <div className="alert alert-error" role="alert">{error}</div> : null}
      <form className="form" onSubmit={submit}>
        <Field label="Your name" name="name" autoComplete="name" value={form.name} onChange={set("name")} autoFocus />
        <Field label="Organization" name="orgName" autoComplete="organization" required value={form.orgName}
          onChange={set("orgName")} placeholder="Acme Inc." />
        <Field label="Work email" type="email" name="email" autoComplete="email" required value={form.email}
          onChange={set("email")} />
        <Field label="Password" type="password" name="password" autoComplete="new-password" required
          value={form.password} onChange={set("password")} hint={`At least ${MIN_PASSWORD} characters.`} />
        <button type="submit" className="button button-primary button-block" disabled={busy}>
          {busy ? "Creating your account…" : "Create account"}
        </button>
      </form>
    </AuthLayout>
  );
}

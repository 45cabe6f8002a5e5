/**
 * Joining an organization from an invitation link (`/accept-invitation?token=…`, made on the Members
 * screen): the invitee picks a name and a password, `acceptInvitation` creates the account with the
 * invitation's role and signs them in.
 */
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { AuthLayout } from "../components/AuthLayout";
import { Field } from "../components/Field";
import { useAuth } from "../lib/auth";
import { ApiError } from "../lib/errors";

const MIN_PASSWORD = 10;

function failureMessage(failure: unknown): string {
  if (failure instanceof ApiError) {
    if (failure.code === "UNAUTHENTICATED") {
      return "This invitation is invalid, already used or expired. Ask an admin of the organization for a new one.";
    }
    if (failure.code === "CONFLICT") return "An account with this email already exists. Log in instead.";
    return failure.message;
  }
  return failure instanceof Error ? failure.message : String(failure);
}

export default function AcceptInvitationPage() {
  const { acceptInvitation, user } = useAuth();
  const navigate = useNavigate();
  // Someone may already be signed in in this browser (say, the admin who sent the invitation).
  const signedInAs = user ? user.email : null;
  const [params] = useSearchParams();
  const token = params.get("token")?.trim() ?? "";
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (password.length < MIN_PASSWORD) {
      setError(`The password needs at least ${MIN_PASSWORD} characters.`);
      return;
    }
    if (password !== confirm) {
      setError("The two passwords differ.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      // Signed in as the new member on success: on to their first screen.
      await acceptInvitation(token, name.trim(), password);
      navigate("/", { replace: true });
    } catch (failure) {
      setError(failureMessage(failure));
      setBusy(false);
    }
  };

  if (!token) {
    return (
      <AuthLayout title="Accept invitation" footer={<>Already have an account? <Link to="/login">Log in</Link></>}>
        <div className="alert alert-error" role="alert">
          This link has no invitation token. Open the full link you were sent, or ask an admin for a new one.
        </div>
      </AuthLayout>
    );
  }

  return (
    <AuthLayout title="Join your team" subtitle="You were invited to TrackMint. Choose your name and a password."
      footer={<>Already have an account? <Link to="/login">Log in</Link></>}>
      {error ? <div className="alert alert-error" role="alert">{error}</div> : null}
      {signedInAs ? (
        <div className="alert" role="note" data-testid="signed-in-note">
          You are signed in as {signedInAs}. Joining signs you in as the invited member instead.
        </div>
      ) : null}
      <form className="form" onSubmit={submit} aria-label="Accept invitation">
        <Field label="Your name" name="name" autoComplete="name" required value={name}
          onChange={(e) => setName(e.target.value)} autoFocus maxLength={200} />
        <Field label="Password" type="password" name="password" autoComplete="new-password" required
          value={password} onChange={(e) => setPassword(e.target.value)} hint={`At least ${MIN_PASSWORD} characters.`} />
        <Field label="Repeat password" type="password" name="confirm" autoComplete="new-password" required
          value={confirm} onChange={(e) => setConfirm(e.target.value)} />
        <button type="submit" className="button button-primary button-block" disabled={busy}>
          {busy ? "Joining…" : "Join and sign in"}
        </button>
      </form>
    </AuthLayout>
  );
}

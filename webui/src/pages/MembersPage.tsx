/**
 * The organization's members (ADMIN only): their roles, changing a role, removing a member, and
 * inviting someone by email with a role. An invitation's token is shown once, as an accept link to
 * pass on; the API does not list pending invitations, so only those made here are remembered (until
 * the page is left).
 */
import { useEffect, useState, type FormEvent } from "react";
import { gql, useMutation, useQuery } from "urql";
import { CopyButton } from "../components/CopyButton";
import { PageHeader } from "../components/PageHeader";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import { useUser, type Role } from "../lib/auth";
import { errorMessage } from "../lib/errors";
import { useProjects } from "../lib/project";
import { formatDate, formatDateTime, formatRelative } from "../lib/time";

interface Member {
  id: string;
  email: string;
  name: string;
  role: Role;
  createdAt: string;
}

interface Invitation {
  id: string;
  email: string;
  role: Role;
  expiresAt: string;
  token: string;
}

const MEMBERS = gql`query Members { members { id email name role createdAt } }`;
const INVITE = gql`
  mutation InviteMember($email: String!, $role: Role!) {
    inviteMember(email: $email, role: $role) { id email role expiresAt token }
  }
`;
const SET_ROLE = gql`
  mutation SetMemberRole($userId: ID!, $role: Role!) { setMemberRole(userId: $userId, role: $role) { id role } }
`;
const REMOVE = gql`mutation RemoveMember($userId: ID!) { removeMember(userId: $userId) }`;

const ROLES: { role: Role; label: string; description: string }[] = [
  { role: "ADMIN", label: "Admin", description: "everything, including members" },
  { role: "DEVELOPER", label: "Developer", description: "projects, keys, schemas and settings" },
  { role: "VIEWER", label: "Viewer", description: "read-only analytics" },
];

function roleLabel(role: Role): string {
  return ROLES.find((r) => r.role === role)?.label ?? role;
}

function browserTimezone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

function acceptLink(token: string): string {
  return `${window.location.origin}/accept-invitation?token=${encodeURIComponent(token)}`;
}

function InvitationCallout({ invitation, timezone, onDone }: {
  invitation: Invitation;
  timezone: string;
  onDone: () => void;
}) {
  const link = acceptLink(invitation.token);
  return (
    <div className="card callout" role="status" data-testid="invitation">
      <div className="callout-title">
        Invitation for {invitation.email} as {roleLabel(invitation.role).toLowerCase()}: copy the link now
      </div>
      <p className="muted">
        Send this link to {invitation.email}. It is shown only this once, works once, and expires{" "}
        <span title={formatDateTime(invitation.expiresAt, timezone)}>{formatRelative(invitation.expiresAt)}</span>.
        Inviting the same email again replaces it.
      </p>
      <div className="secret-row">
        <code className="secret" data-testid="invitation-link">{link}</code>
        <CopyButton text={link} label="Copy link" />
      </div>
      <button type="button" className="button button-ghost button-small" onClick={onDone}>I have sent it</button>
    </div>
  );
}

function InviteForm({ onInvited }: { onInvited: (invitation: Invitation) => void }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("VIEWER");
  const [result, invite] = useMutation<{ inviteMember: Invitation }>(INVITE);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const invited = await invite({ email: email.trim(), role });
    if (invited.data) {
      setEmail("");
      onInvited(invited.data.inviteMember);
    }
  };

  return (
    <form className="card form form-inline-card" onSubmit={submit} aria-label="Invite member">
      <h2 className="card-title">Invite a member</h2>
      <p className="muted">They get a link to choose a name and password, and join with the role you pick.</p>
      {result.error ? <div className="alert alert-error" role="alert">{errorMessage(result.error)}</div> : null}
      <div className="form-row">
        <label className="field grow">
          <span className="field-label">Email</span>
          <input className="input" type="email" name="inviteEmail" required value={email} autoComplete="off"
            onChange={(e) => setEmail(e.target.value)} placeholder="colleague@example.com" />
        </label>
        <label className="field">
          <span className="field-label">Role</span>
          <select className="input" name="inviteRole" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => <option key={r.role} value={r.role}>{r.label} — {r.description}</option>)}
          </select>
        </label>
        <button type="submit" className="button button-primary" disabled={result.fetching || !email.trim()}>
          {result.fetching ? "Inviting…" : "Invite"}
        </button>
      </div>
    </form>
  );
}

function MemberRow({ member, isSelf, timezone, onChanged }: {
  member: Member;
  isSelf: boolean;
  timezone: string;
  onChanged: () => void;
}) {
  const [roleResult, setRole] = useMutation<{ setMemberRole: { id: string; role: Role } }>(SET_ROLE);
  const [removeResult, remove] = useMutation(REMOVE);
  const error = roleResult.error ?? removeResult.error;

  const changeRole = async (role: Role) => {
    if (role === member.role) return;
    const result = await setRole({ userId: member.id, role });
    if (!result.error) onChanged();
  };
  const doRemove = async () => {
    const who = member.name || member.email;
    if (window.confirm(`Remove ${who} from the organization? Their account is deleted and their sessions end.`)) {
      const result = await remove({ userId: member.id });
      if (!result.error) onChanged();
    }
  };

  return (
    <tr data-member={member.email}>
      <td>
        <strong>{member.name || member.email}</strong>
        {isSelf ? <span className="badge badge-accent members-you">you</span> : null}
        <div className="muted">{member.email}</div>
      </td>
      <td>
        {isSelf ? (
          <span className="badge">{roleLabel(member.role)}</span>
        ) : (
          <select className="input members-role" aria-label={`Role of ${member.email}`} value={member.role}
            disabled={roleResult.fetching} onChange={(e) => void changeRole(e.target.value as Role)}>
            {ROLES.map((r) => <option key={r.role} value={r.role}>{r.label}</option>)}
          </select>
        )}
      </td>
      <td title={formatDateTime(member.createdAt, timezone)}>{formatDate(member.createdAt, timezone)}</td>
      <td className="actions">
        {error ? <span className="inline-error" role="alert">{errorMessage(error)}</span> : null}
        {isSelf ? null : (
          <button type="button" className="button button-small button-danger" onClick={doRemove}
            disabled={removeResult.fetching} aria-label={`Remove ${member.email}`}>Remove</button>
        )}
      </td>
    </tr>
  );
}

export default function MembersPage() {
  const user = useUser();
  const { project } = useProjects();
  const timezone = project?.timezone ?? browserTimezone();
  const [result, reexecute] = useQuery<{ members: Member[] }>({ query: MEMBERS });
  const [invitation, setInvitation] = useState<Invitation | null>(null);
  const [invited, setInvited] = useState<Invitation[]>([]);
  const reload = () => reexecute({ requestPolicy: "network-only" });
  const members = result.data?.members ?? [];
  const pending = invited.filter((i) => !members.some((m) => m.email.toLowerCase() === i.email.toLowerCase()));
  // Once someone has joined, their invitation is used up: forget it, even if they are removed later.
  useEffect(() => {
    if (pending.length !== invited.length) setInvited(pending);
  }, [pending, invited]);

  const onInvited = (next: Invitation) => {
    setInvitation(next);
    setInvited((list) => [next, ...list.filter((i) => i.email !== next.email)]);
  };

  return (
    <div className="page">
      <PageHeader title="Members"
        description={<>The people of <strong>{user.organization.name}</strong> and what their role lets them do. A role
          change or removal ends that member's sessions.</>}
        actions={<button type="button" className="button" onClick={reload}>Refresh</button>} />
      {invitation ? <InvitationCallout invitation={invitation} timezone={timezone} onDone={() => setInvitation(null)} /> : null}
      <InviteForm onInvited={onInvited} />
      {result.fetching && !result.data ? <LoadingState /> : null}
      {result.error ? <ErrorState error={result.error} onRetry={reload} /> : null}
      {result.data && members.length === 0 ? <EmptyState title="No members">Invite someone above.</EmptyState> : null}
      {members.length > 0 ? (
        <div className="card table-card">
          <table className="table" aria-label="Members">
            <thead>
              <tr><th>Member</th><th>Role</th><th>Joined</th><th /></tr>
            </thead>
            <tbody>
              {members.map((member) => (
                <MemberRow key={member.id} member={member} isSelf={member.id === user.id} timezone={timezone}
                  onChanged={reload} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {pending.length > 0 ? (
        <div className="card table-card">
          <div className="card-header"><h2 className="card-title">Invited from this page</h2></div>
          <p className="muted members-note">Waiting to be accepted. Links cannot be shown again: invite the email
            again for a new one.</p>
          <table className="table" aria-label="Pending invitations">
            <thead>
              <tr><th>Email</th><th>Role</th><th>Expires</th></tr>
            </thead>
            <tbody>
              {pending.map((i) => (
                <tr key={i.id} data-invitation={i.email}>
                  <td>{i.email}</td>
                  <td><span className="badge">{roleLabel(i.role)}</span></td>
                  <td title={formatDateTime(i.expiresAt, timezone)}>{formatRelative(i.expiresAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <details className="card help">
        <summary>What each role may do</summary>
        <ul className="members-roles">
          {ROLES.map((r) => <li key={r.role}><strong>{r.label}</strong>: {r.description}.</li>)}
        </ul>
      </details>
    </div>
  );
}

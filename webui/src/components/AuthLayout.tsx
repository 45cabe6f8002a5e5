/** The centred card of the sign-in screens, with the theme toggle in the corner. */
import type { ReactNode } from "react";
import { ThemeToggle } from "./ThemeToggle";

export function AuthLayout({ title, subtitle, children, footer }: {
  title: string;
  subtitle?: ReactNode;
  children: ReactNode;
  footer?: ReactNode;
}) {
  return (
    <div className="auth">
      <div className="auth-theme"><ThemeToggle /></div>
      <div className="auth-card card">
        <div className="brand brand-large">
          <img src="/favicon.svg" alt="" width={32} height={32} />
          <span>TrackMint</span>
        </div>
        <h1>{title}</h1>
        {subtitle ? <p className="auth-subtitle">{subtitle}</p> : null}
        {children}
      </div>
      {footer ? <div className="auth-footer">{footer}</div> : null}
    </div>
  );
}

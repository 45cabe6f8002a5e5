import { Link } from "react-router";
import { EmptyState } from "../components/States";

export default function NotFoundPage() {
  return (
    <EmptyState title="Page not found">
      There is nothing at this address. <Link to="/">Go to the start page</Link>.
    </EmptyState>
  );
}

"""Plans, subscriptions and seats, proration, invoices and their PDFs, payments through a
provider (manual or Stripe), renewals and dunning."""

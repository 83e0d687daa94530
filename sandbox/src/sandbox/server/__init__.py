"""The sandbox server: HubSpot-, Stripe- and Typeform-compatible APIs over the generated world."""

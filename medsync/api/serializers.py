from rest_framework import serializers

from medsync.models import US_STATES, Organization, Pharmacy, User


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, write_only=True)
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=12,
        write_only=True,
        help_text="The current 6-digit code of your authenticator app. Required for owners, "
        "pharmacists, platform staff and anyone who has set up a second factor.",
    )
    name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="What the token is for, shown on your account page.",
    )


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


class PharmacySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    missing_for_operation = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Pharmacy
        fields = [
            "id",
            "name",
            "ncpdp_id",
            "npi",
            "address_line1",
            "address_line2",
            "city",
            "state",
            "postal_code",
            "time_zone",
            "phone",
            "sms_number",
            "twilio_auth_token_env",
            "hours",
            "closed_dates",
            "is_active",
            "missing_for_operation",
        ]
        read_only_fields = fields


class PharmacySettingsSerializer(serializers.Serializer):
    """PATCH /pharmacies/{id}/: any of these; the service checks each and names bad fields."""

    name = serializers.CharField(max_length=200, required=False)
    ncpdp_id = serializers.CharField(
        max_length=7, required=False, allow_blank=True, help_text="7 digits."
    )
    npi = serializers.CharField(
        max_length=10, required=False, allow_blank=True, help_text="10 digits with check digit."
    )
    address_line1 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    address_line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    state = serializers.ChoiceField(choices=US_STATES, required=False)
    postal_code = serializers.CharField(max_length=10, required=False, allow_blank=True)
    time_zone = serializers.CharField(
        max_length=64, required=False, help_text="IANA, e.g. America/Chicago."
    )
    phone = serializers.CharField(
        max_length=30, required=False, allow_blank=True, help_text="Stored in E.164."
    )
    sms_number = serializers.CharField(
        max_length=30, required=False, allow_blank=True, help_text="Stored in E.164."
    )
    twilio_auth_token_env = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="The NAME of the variable holding the Twilio auth token (TWILIO_AUTH_TOKEN_...).",
    )
    hours = serializers.DictField(
        child=serializers.CharField(max_length=11, allow_blank=True),
        required=False,
        help_text='Per weekday mon..sun: "09:00-18:00", or "" for closed.',
    )
    closed_dates = serializers.ListField(
        child=serializers.CharField(max_length=10), max_length=366, required=False
    )


class UserSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "full_name"]


class OrganizationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Organization
        fields = ["id", "name", "slug"]


class MeSerializer(serializers.Serializer):
    user = UserSerializer()
    organization = OrganizationSerializer()
    role = serializers.CharField()
    permissions = serializers.ListField(child=serializers.CharField())
    pharmacies = PharmacySerializer(many=True)
    organizations = OrganizationSerializer(many=True, help_text="Every organization you belong to.")

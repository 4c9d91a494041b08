from rest_framework import serializers

from medsync.models import Organization, Pharmacy, User


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
            "is_active",
            "missing_for_operation",
        ]
        read_only_fields = fields


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

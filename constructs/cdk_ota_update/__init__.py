"""cdk-ota-update: AWS IoT OTA updates (iot:CreateOTAUpdate) declared as AWS CDK constructs."""

"""Every write of the OA bridge goes through these functions."""
